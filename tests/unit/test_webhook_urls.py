"""Webhook URLs: https, to public addresses only, judged on the resolved address."""

import socket

import pytest

from outreach.logic.webhook_urls import InvalidWebhookUrl, resolve_webhook_url

REFUSED = [
    "http://93.184.216.34/hook",  # not https
    "https://127.0.0.1/hook",
    "https://[::1]/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.9/hook",
    "https://192.168.1.20/hook",
    "https://169.254.169.254/latest/meta-data/",  # instance metadata (link-local)
    "https://[fd00:ec2::254]/",  # instance metadata over IPv6
    "https://100.64.0.1/hook",  # shared address space (carrier NAT)
    "https://0.0.0.0/hook",
    "https://[::ffff:10.0.0.1]/hook",  # a private IPv4 address inside IPv6
    "https://224.0.0.1/hook",
    "https://user:pass@93.184.216.34/hook",
    "ftp://93.184.216.34/hook",
    "https:///hook",
    "not a url",
]


@pytest.mark.parametrize("url", REFUSED)
def test_refused_urls(url):
    with pytest.raises(InvalidWebhookUrl) as refused:
        resolve_webhook_url(url, allow_loopback=False)
    assert refused.value.status == 422 and refused.value.code == "invalid_webhook_url"


def test_a_public_https_address_is_accepted():
    assert resolve_webhook_url("https://93.184.216.34:8443/hook?x=1", allow_loopback=False) == (
        "93.184.216.34", 8443, ["93.184.216.34"])


def test_a_name_is_judged_by_what_it_resolves_to(monkeypatch):
    answers = {"hooks.example.com": ["93.184.216.34", "10.0.0.7"], "ok.example.com": ["93.184.216.34"]}

    def fake_getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(InvalidWebhookUrl):  # one private address among the answers is enough to refuse
        resolve_webhook_url("https://hooks.example.com/x", allow_loopback=False)
    assert resolve_webhook_url("https://ok.example.com/x", allow_loopback=False)[2] == ["93.184.216.34"]


def test_loopback_only_when_allowed_and_then_over_http_too():
    assert resolve_webhook_url("http://127.0.0.1:9000/hook", allow_loopback=True)[2] == ["127.0.0.1"]
    assert resolve_webhook_url("https://127.0.0.1/hook", allow_loopback=True)[2] == ["127.0.0.1"]
    for url in ("http://127.0.0.1:9000/hook", "https://localhost/hook"):
        with pytest.raises(InvalidWebhookUrl):
            resolve_webhook_url(url, allow_loopback=False)
    # The allowance is for loopback only: private and metadata addresses stay refused, http elsewhere too.
    for url in ("https://10.0.0.1/", "https://169.254.169.254/", "http://93.184.216.34/"):
        with pytest.raises(InvalidWebhookUrl):
            resolve_webhook_url(url, allow_loopback=True)


def test_delivery_checks_the_address_again_and_never_connects_to_a_refused_one(monkeypatch):
    """A name that resolved to a public address at dispatch and to a private one at delivery is not called."""
    from outreach.logic import webhooks

    connected = []
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))])
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: connected.append(a))
    with pytest.raises(InvalidWebhookUrl):
        webhooks.post("https://hooks.example.com/x", "{}", {}, allow_loopback=False)
    assert connected == []
