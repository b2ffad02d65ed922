"""A warm container, or a long-running `make serve`, reviews email after email: what the review keeps of the
texts it has read (emails, chat messages, drafts) must stay bounded, however many and however long they are."""

import gc
import tracemalloc

from outreach.review import ReviewInputs, review_email

LEAD = {"first_name": "Priya", "last_name": "Raman", "company": "Ledgerline Finance"}
SKELETON = {"goal": "Book a call", "call_to_action": "a 15-minute call next week", "max_words": 400}
WORDS = ("we", "help", "revenue", "teams", "plan", "each", "quarter", "with", "fewer", "surprises", "and", "clearer",
         "forecasts", "for", "every", "rep")


def long_text(i: int, words: int) -> str:
    """Ordinary prose no other session has: its own figures every few words."""
    return " ".join(f"{WORDS[(i + n) % len(WORDS)]} {i}-{n}" if n % 5 == 0 else WORDS[(i + n) % len(WORDS)]
                    for n in range(words))


def test_reviewing_hundreds_of_long_chats_and_emails_keeps_a_bounded_amount_of_them():
    review_email("A note", "Hi Priya,\n\nA note.\n\nSam", ReviewInputs(lead=LEAD, skeleton=SKELETON))
    gc.collect()
    tracemalloc.start()
    try:
        for i in range(300):  # each review: its own chat message (~3,700 chars) and its own email body
            inputs = ReviewInputs(lead=LEAD, skeleton=SKELETON, chat_messages=(long_text(i, 600),))
            review_email(f"A note {i}", f"Hi Priya,\n\n{long_text(i + 1000, 260)}\n\nBest,\nSam", inputs)
        gc.collect()
        retained, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Read: ~1.6 million characters. Kept before: every text folded and its words tokenised, up to 16,384 texts
    # (~60 kB a review here: ~18 MB for these 300, up to a gigabyte in all). Kept now: ~5 MB.
    assert retained < 10_000_000, f"{retained / 1e6:.1f} MB kept"
