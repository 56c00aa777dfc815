"""`python -m integrations.fakes NAME [--port P] [--webhook-url URL] [--smtp-port P]`: runs one fake in the
foreground on 127.0.0.1 until Ctrl-C or SIGTERM. The first line on stdout is `NAME listening on http://127.0.0.1:PORT`,
then one line for each further listener (`mail smtp on 127.0.0.1:PORT`)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from integrations.fakes import FAKES, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m integrations.fakes", description="Run one provider fake.")
    parser.add_argument("name", choices=sorted(FAKES))
    parser.add_argument("--port", type=int, default=0, help="HTTP port; 0 (the default) picks a free one")
    parser.add_argument("--webhook-url", help="where an ATS fake delivers its webhooks")
    parser.add_argument("--smtp-port", type=int, help="mail: the SMTP port; 0 (the default) picks a free one")
    args = parser.parse_args(argv)
    options = {"webhook_url": args.webhook_url}
    if args.smtp_port is not None:
        if args.name != "mail":
            parser.error("--smtp-port is for the mail fake")
        options["smtp_port"] = args.smtp_port
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    fake = load(args.name).start(port=args.port, **options)
    try:
        print(f"{args.name} listening on {fake.url}", flush=True)
        for line in fake.extra_listeners():
            print(line, flush=True)
        while not stopping.wait(0.2):
            pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
