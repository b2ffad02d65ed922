"""The offline writer's emails for the sample leads pass every check (what `make demo` shows)."""

import json
from pathlib import Path

from outreach.llm.offline import OfflineWriter
from outreach.prompts import email_prompt, framework_prompt
from outreach.review import OtherLead, ReviewInputs, review_email
from outreach.review.inputs import full_name_of

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_every_sample_lead_gets_an_ok_email_from_the_offline_writer():
    chat = json.loads((EVENTS / "chat_turns.json").read_text())
    leads = json.loads((EVENTS / "sample_leads.json").read_text())
    writer = OfflineWriter()
    messages, framework = [], None
    for turn in chat["turns"]:
        reply = writer.framework_turn(
            framework_prompt(
                messages=messages, skeleton=framework.skeleton.model_dump() if framework else None,
                draft_subject=None, draft_body=None, available_var_names=chat["availableVarNames"],
                sample_leads=[], sequence_context=chat["sequenceContext"], user_message=turn, cache_key="k",
            )
        ).value
        messages += [{"role": "user", "content": turn}, {"role": "assistant", "content": reply.reply}]
        framework = reply.framework
    skeleton = framework.skeleton.model_dump()

    for index, lead in enumerate(leads):
        draft = writer.write_email(
            email_prompt(skeleton=skeleton, draft_subject=framework.draft_subject, draft_body=framework.draft_body,
                         sequence_context=chat["sequenceContext"], lead=lead, cache_key="k")
        ).value
        others = tuple(OtherLead(full_name_of(o), o.get("company")) for i, o in enumerate(leads) if i != index)
        inputs = ReviewInputs(
            lead=lead, skeleton=skeleton, draft_subject=framework.draft_subject, draft_body=framework.draft_body,
            chat_messages=tuple(m["content"] for m in messages), other_leads=others,
        )
        assert review_email(draft.subject, draft.body, inputs) == {"verdict": "ok", "flags": [], "attempts": 1}, (
            lead["full_name"], draft.body
        )
