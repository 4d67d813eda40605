"""Notification throughput: pure rendering, and end-to-end e-mail sends to the loopback mailbox.

Prints figures only; nothing is asserted. Run: .venv/bin/python bench/bench_notify.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.mailbox import Mailbox
from shared.notify import Channel, Notification, TemplateId, render_notice, send_notification
from shared.settings import Settings
from tests.notify.samples import SAMPLES


def bench_render(rounds: int = 200) -> None:
    render_notice(TemplateId.FINAL_NOTICE, "zh-CN", SAMPLES[TemplateId.FINAL_NOTICE])  # warm the cache
    count = 0
    start = time.perf_counter()
    for _ in range(rounds):
        for tid, ctx in SAMPLES.items():
            for lang in ("en", "zh-CN"):
                render_notice(tid, lang, ctx)
                count += 1
    elapsed = time.perf_counter() - start
    print(f"render_notice: {count} renders in {elapsed:.2f} s = {count / elapsed:,.0f} notices/s "
          f"({elapsed / count * 1e6:,.0f} us each)")


def bench_smtp(count: int = 200) -> None:
    with Mailbox() as box:
        settings = Settings.model_validate({"AzureWebJobsStorage": "UseDevelopmentStorage=true",
                                            "CSPGUARD_SMTP_PORT": box.port})
        start = time.perf_counter()
        for i in range(count):
            n = Notification(idempotency_key=f"bench:{i}", channel=Channel.EMAIL,
                             recipient="ap@customer.example",
                             template_id=TemplateId.FINAL_NOTICE, language="zh-CN",
                             context=SAMPLES[TemplateId.FINAL_NOTICE])
            send_notification(n, settings)
        box.wait_for(lambda m: len(m) == count, timeout=60)
        elapsed = time.perf_counter() - start
    print(f"send_notification (e-mail, one SMTP connection each, loopback): {count} in {elapsed:.2f} s "
          f"= {count / elapsed:,.0f} e-mails/s")


if __name__ == "__main__":
    bench_render()
    bench_smtp()
