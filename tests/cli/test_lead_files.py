"""Lead files as sales tools export them: header names mapped, other columns kept, bad rows named by line."""

import json

from outreach_cli.leads import read_leads


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_messy_headers_map_to_lead_fields_and_other_columns_become_custom_fields(tmp_path):
    path = write(tmp_path, "apollo.csv", "\ufeff First Name ,LAST_NAME,Company Name,TITLE,Person Linkedin Url,"
                 "Industry,Employees\nAnn,Lee,Acme,VP Sales,https://linkedin.com/in/ann,SaaS,\n")
    found = read_leads(path)
    assert found.bad_rows == []
    assert found.leads == [{
        "first_name": "Ann", "last_name": "Lee", "company": "Acme", "position": "VP Sales",
        "linkedin_url": "https://linkedin.com/in/ann", "custom_fields": {"Industry": "SaaS"},
    }]  # the empty Employees cell is left out


def test_semicolon_exports_and_full_name_columns_are_read(tmp_path):
    path = write(tmp_path, "excel.csv", "Full Name;Company;Headline\nJosé Ñúñez;Übergrün GmbH;CTO @ Übergrün\n")
    assert read_leads(path).leads == [{"full_name": "José Ñúñez", "company": "Übergrün GmbH",
                                       "headline": "CTO @ Übergrün"}]


def test_bad_rows_are_named_by_their_line_and_good_rows_kept(tmp_path):
    path = write(tmp_path, "leads.csv", "First Name,Company,Title\nAnn,Acme,CEO\n,,CTO\nBo,Beta,\n"
                 f"{'x' * 300},Gamma,CFO\n")
    found = read_leads(path)
    assert [lead["first_name"] for lead in found.leads] == ["Ann", "Bo"]
    assert [(bad.line, bad.reason) for bad in found.bad_rows] == [
        (3, "a lead needs a name, a company or a LinkedIn URL"),
        (5, "first_name is longer than 256 characters"),
    ]


def test_json_files_take_a_list_or_an_object_with_leads(tmp_path):
    leads = [{"first_name": "Ann", "company": "Acme"}, {"position": "CTO"}]
    for data in (leads, {"leads": leads}):
        found = read_leads(write(tmp_path, "leads.json", json.dumps(data)))
        assert found.leads == leads[:1]
        assert [(bad.line, bad.reason) for bad in found.bad_rows] == [(2, "a lead needs a name, a company or a "
                                                                          "LinkedIn URL")]
