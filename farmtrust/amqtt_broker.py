"""Run the pure-Python amqtt broker (MQTT 3.1.1) on 127.0.0.1:PORT: ``python -m farmtrust.amqtt_broker PORT``."""

from __future__ import annotations

import asyncio
import logging
import sys


async def _serve(port: int) -> None:
    from amqtt.broker import Broker

    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}", "max_connections": 1000}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    broker = Broker(config)
    await broker.start()
    try:
        await asyncio.Event().wait()
    finally:
        await broker.shutdown()


def main() -> None:
    """Serve until interrupted."""
    logging.basicConfig(level=logging.WARNING)
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 1883
    try:
        asyncio.run(_serve(port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
