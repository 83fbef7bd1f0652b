"""Jobs for the queue worker at a steady rate: invoices (and some refunds) for many customers.

Keys spread over CUSTOMERS customers, so every partition of the worker's queue gets traffic.
"""

from __future__ import annotations

from lab.loadgen.generator import OpenLoop

REFUND_RATIO = 0.1
CUSTOMERS = 500


class JobProducer(OpenLoop):
    def job(self) -> dict[str, object]:
        rng = self._rng
        return {
            "kind": "refund" if rng.random() < REFUND_RATIO else "invoice",
            "key": f"customer-{rng.randint(1, CUSTOMERS)}",
            "amount": round(rng.uniform(1, 500), 2),
        }

    async def _one(self) -> None:
        await self._send("POST", f"{self._base}/jobs", self.job())
