"""The offline writer: deterministic, no network, no key.

It is no model. It fills the draft's ``%variable%`` placeholders from the one
lead it is given (or composes from the skeleton when there is no draft), and
builds a framework from the chat by simple rules, so the whole service can be
run and tested on one machine. Token figures are estimates (4 characters a
token) so usage and cost reports keep their shape.
"""

from __future__ import annotations

import re

from outreach.llm.base import LLMResult, check_email
from outreach.models.llm import EmailDraft, Framework, FrameworkReply, Skeleton, SkeletonSection, Usage
from outreach.prompts import Prompt

MODEL = "offline-template-v1"
_PLACEHOLDER = re.compile(r"%([A-Za-z_][A-Za-z0-9_ .-]{0,63})%")
_FALLBACKS = {
    "first_name": "there",
    "full_name": "there",
    "name": "there",
    "company": "your team",
    "company_name": "your team",
    "position": "your role",
    "title": "your role",
}
DEFAULT_VARIABLES = ["first_name", "company", "position"]
_ROLES = {
    "first_name": ("first_name",),
    "company": ("company", "company_name"),
    "position": ("position", "title", "job_title"),
}


def _tokens(chars: int) -> int:
    return max(1, round(chars / 4))


def _key(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name.strip()).replace(" ", "_").replace("-", "_").lower()


def _lead_values(lead: dict) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in (lead.get("custom_fields") or {}).items():
        if value is not None and str(value).strip():
            values[_key(name)] = str(value).strip()
    for name in ("first_name", "last_name", "full_name", "company", "position", "headline", "linkedin_url"):
        if lead.get(name):
            values[name] = str(lead[name]).strip()
    if "full_name" in values and "first_name" not in values:
        values["first_name"] = values["full_name"].split()[0]
    if "first_name" in values and "full_name" not in values:
        values["full_name"] = " ".join(p for p in (values["first_name"], values.get("last_name", "")) if p)
    values.setdefault("name", values.get("full_name", ""))
    values.setdefault("company_name", values.get("company", ""))
    values.setdefault("title", values.get("position", ""))
    return {k: v for k, v in values.items() if v}


def fill(template: str, lead: dict) -> str:
    values = _lead_values(lead)
    # "your work as %position% at ..." reads badly with a stand-in: drop the phrase when the lead has none.
    template = re.sub(
        r"\s+as\s+%([A-Za-z_][A-Za-z0-9_]*)%",
        lambda m: m.group(0) if values.get(_key(m.group(1))) else "",
        template,
    )

    def replace(match: re.Match) -> str:
        key = _key(match.group(1))
        return values.get(key) or _FALLBACKS.get(key, "")

    filled = _PLACEHOLDER.sub(replace, template)
    # A placeholder with no value leaves double spaces or a space before punctuation.
    filled = re.sub(r"[ \t]{2,}", " ", filled)
    return re.sub(r" ([,.!?;:])", r"\1", filled)


def _compose_from_skeleton(skeleton: dict) -> tuple[str, str]:
    sections = skeleton.get("sections") or []
    lines = ["Hi %first_name%,", ""]
    for section in sections:
        guidance = str(section.get("guidance") or "").strip()
        if guidance:
            lines.append(guidance)
    cta = str(skeleton.get("call_to_action") or "").strip()
    if cta:
        lines += ["", f"{cta.rstrip('.?')}?"]
    lines += ["", "Best regards"]
    return "A thought for %company%", "\n".join(lines)


class OfflineWriter:
    model = MODEL

    def write_email(self, prompt: Prompt) -> LLMResult[EmailDraft]:
        ctx = prompt.context
        lead = ctx["lead"]
        subject_t, body_t = ctx.get("draft_subject") or "", ctx.get("draft_body") or ""
        if not body_t.strip():
            subject_t, body_t = _compose_from_skeleton(ctx.get("skeleton") or {})
        subject, body = fill(subject_t, lead), fill(body_t, lead)

        sequence = ctx.get("sequence_context") or {}
        prior = [n for n in sequence.get("prior_nodes") or [] if n.get("subject") or n.get("body")]
        position = sequence.get("position") or 0
        if prior or position > 1:
            last_subject = next((fill(n["subject"], lead) for n in reversed(prior) if n.get("subject")), "")
            if last_subject:
                subject = f"Re: {last_subject}"
            body = _acknowledge_prior(body, bool(prior))

        draft = check_email(EmailDraft(subject=subject or "Hello", body=body))
        usage = Usage(
            input_tokens=_tokens(prompt.total_chars), output_tokens=_tokens(len(draft.subject) + len(draft.body))
        )
        return LLMResult(value=draft, usage=usage, model=MODEL)

    def framework_turn(self, prompt: Prompt) -> LLMResult[FrameworkReply]:
        ctx = prompt.context
        user_messages = [m["content"] for m in ctx.get("messages") or [] if m.get("role") == "user"]
        user_messages.append(ctx["user_message"])
        framework = _framework_from_chat(user_messages, ctx.get("available_var_names") or [], ctx.get("skeleton"))
        reply = (
            f"Here is the framework so far: {framework.skeleton.goal} "
            f"It uses {', '.join(framework.skeleton.personalization)} for personalisation and ends by asking for "
            f"{framework.skeleton.call_to_action}. Tell me what to change, or generate examples to see it on real "
            "leads."
        )
        result = FrameworkReply(reply=reply, framework=framework)
        usage = Usage(input_tokens=_tokens(prompt.total_chars), output_tokens=_tokens(len(result.model_dump_json())))
        return LLMResult(value=result, usage=usage, model=MODEL)


def _acknowledge_prior(body: str, has_prior: bool) -> str:
    opener = "Following up on my last note." if has_prior else "Following up on my earlier note."
    lines = body.splitlines()
    # Keep the greeting first, then acknowledge the earlier touch.
    if lines and lines[0].rstrip().endswith(","):
        return "\n".join([lines[0], "", opener, *lines[1:]])
    return f"{opener}\n\n{body}"


def _first_sentence(text: str, limit: int = 200) -> str:
    sentence = re.split(r"(?<=[.!?])\s", " ".join(text.split()), maxsplit=1)[0]
    return sentence[:limit].rstrip()


def _call_to_action(user_messages: list[str]) -> str:
    """The latest ask the rep named: "a 15-minute call", "a demo", ..."""
    for message in reversed(user_messages):
        timed = re.search(r"(\d{1,3})[- ]min(?:ute)?s?\s+(call|chat|meeting|demo)", message, re.IGNORECASE)
        if timed:
            return f"a {timed.group(1)}-minute {timed.group(2).lower()}"
        word = re.search(r"\b(demo|call|chat)\b", message, re.IGNORECASE)
        if word:
            return {"demo": "a short demo", "call": "a quick call", "chat": "a quick chat"}[word.group(1).lower()]
    return "a 15-minute call next week"


def _proof(later_messages: list[str]) -> str:
    """A sentence of proof the rep gave (one with a figure), in the rep's words."""
    for message in later_messages:
        for sentence in re.split(r"(?<=[.!?])\s+", " ".join(message.split())):
            if not re.search(r"\d", sentence) or re.search(r"\b(words?|subject|minutes?)\b", sentence, re.I):
                continue
            claim = sentence.split(":", 1)[1].strip() if ":" in sentence else sentence.strip()
            return claim[:1].upper() + claim[1:]
    return ""


def _framework_from_chat(user_messages: list[str], available: list[str], previous: dict | None) -> Framework:
    text = " ".join(user_messages).lower()
    goal = _first_sentence(user_messages[0]) or "Start a conversation with the prospect."
    known = {k for keys in _ROLES.values() for k in keys} | {"last_name", "headline", "full_name"}
    variables = [v for v in available if _key(v) in known] or DEFAULT_VARIABLES
    tone = next((t for t in ("casual", "formal", "friendly", "playful", "direct") if t in text), "warm and direct")
    words = re.search(r"(?:under|max(?:imum)?|at most)\s+(\d{2,3})\s+words", text)
    max_words = int(words.group(1)) if words else (80 if "short" in text else 120)
    cta = _call_to_action(user_messages)
    proof = _proof(user_messages[1:])
    notes = [_first_sentence(m) for m in user_messages[1:] if m.strip()]

    sections = [
        SkeletonSection(name="opener", guidance="Open with one line about the prospect's role and company."),
        SkeletonSection(name="value", guidance=f"Say in one sentence what we offer: {goal}"),
        SkeletonSection(name="proof", guidance="One concrete, verifiable reason it is relevant to them."),
        SkeletonSection(name="call_to_action", guidance=f"Ask for {cta}."),
    ]
    sections += [SkeletonSection(name=f"note_{i + 1}", guidance=note) for i, note in enumerate(notes)]
    skeleton = Skeleton(
        goal=goal,
        audience="Decision makers at the campaign's target companies.",
        tone=tone,
        sections=sections,
        personalization=variables,
        call_to_action=cta,
        max_words=max_words,
    )
    # Placeholders keep the client's own spelling of each variable (firstName stays firstName).
    spelled = {role: next((v for v in variables if _key(v) in keys), None) for role, keys in _ROLES.items()}
    greet = f"Hi %{spelled['first_name']}%," if spelled["first_name"] else "Hi there,"
    role = f" as %{spelled['position']}%" if spelled["position"] else ""
    company = f"%{spelled['company']}%" if spelled["company"] else "your team"
    body = "\n".join(
        [
            greet,
            "",
            f"I came across your work{role} at {company} and thought this might be timely.",
            goal,
            *([proof] if proof else []),
            "",
            f"Would you be open to {cta}?",
            "",
            "Best regards",
        ]
    )
    subject = f"A quick idea for {company}"
    return Framework(skeleton=skeleton, draft_subject=subject, draft_body=body)
