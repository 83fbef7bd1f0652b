"""The business API: orders stored in SQLite, stock checked with the inventory service, a receipt per order.

Infrastructure failures become 503/507 answers with a short reason and an ERROR log line with the
exception; anything else propagates to the request middleware, which logs it and answers 500.
"""

from __future__ import annotations

import errno
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Column, Connection, Float, Integer, MetaData, String, Table, insert, select
from sqlalchemy import exc as sa_exc
from starlette.concurrency import run_in_threadpool

from lab.errors import documented
from lab.target.inventory import InventoryUnavailable
from lab.target.releases import regional_tax_rate
from lab.target.runtime import Runtime, get_runtime

metadata = MetaData()
orders_table = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item", String(64), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("total", Float, nullable=False),
    Column("created_at", Float, nullable=False),
)

ORDER_ERRORS = {
    400: "the body could not be read (not UTF-8)",
    404: "no such order",
    500: "the order could not be processed",
    503: "the database or the inventory service is unavailable",
    507: "the data disk is full",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return documented({code: ORDER_ERRORS[code] for code in codes})


SQLITE_MAX_INTEGER = 2**63 - 1  # a larger id cannot be bound as a parameter (OverflowError, a 500)
SEED_ITEMS = ("widget", "gadget", "sprocket", "gizmo", "bracket")
UNIT_PRICE = 9.99


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    quantity: int = Field(gt=0, le=1000)


class Order(BaseModel):
    id: int
    item: str
    quantity: int
    status: str
    total: float
    total_with_tax: float | None = None
    created_at: str

    def taxed(self, rate: float) -> Order:
        return self.model_copy(update={"total_with_tax": round(self.total * (1 + rate), 2)})


class OrderList(BaseModel):
    orders: list[Order]


def _order(row: Any) -> Order:
    created = datetime.fromtimestamp(row.created_at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return Order(
        id=row.id,
        item=row.item,
        quantity=row.quantity,
        status=row.status,
        total=row.total,
        created_at=created,
    )


class OrderRepository:
    """SQL for orders on a connection the caller owns."""

    @staticmethod
    def list(connection: Connection, limit: int) -> list[Order]:
        rows = connection.execute(select(orders_table).order_by(orders_table.c.id.desc()).limit(limit))
        return [_order(row) for row in rows.fetchall()]

    @staticmethod
    def get(connection: Connection, order_id: int) -> Order | None:
        row = connection.execute(select(orders_table).where(orders_table.c.id == order_id)).first()
        return _order(row) if row else None

    @staticmethod
    def add(connection: Connection, item: str, quantity: int, state: str, total: float) -> Order:
        result = connection.execute(
            insert(orders_table).values(
                item=item, quantity=quantity, status=state, total=total, created_at=time.time()
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        order = OrderRepository.get(connection, int(key[0]))
        assert order is not None
        return order


def init_schema(rt: Runtime) -> None:
    metadata.create_all(rt.db.engine)
    with rt.db.engine.begin() as connection:
        if connection.execute(select(orders_table.c.id).limit(1)).first() is None:
            for i, item in enumerate(SEED_ITEMS):
                connection.execute(
                    insert(orders_table).values(
                        item=item,
                        quantity=i + 1,
                        status="accepted",
                        total=round((i + 1) * UNIT_PRICE, 2),
                        created_at=time.time(),
                    )
                )


def _unavailable(rt: Runtime, exc: Exception, **fields: str | int) -> HTTPException:
    """Logs an infrastructure failure of the order path and maps it to an answer with a safe reason."""
    rt.log.error("order failed", exc, error=str(exc).splitlines()[0][:300], **fields)
    if isinstance(exc, sa_exc.TimeoutError):
        return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "database connection unavailable")
    if isinstance(exc, sa_exc.OperationalError):
        return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "database unavailable")
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return HTTPException(status.HTTP_507_INSUFFICIENT_STORAGE, "insufficient storage")
    return HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, "order could not be processed")


INFRA_ERRORS = (sa_exc.TimeoutError, sa_exc.OperationalError, OSError)
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
router = APIRouter(prefix="/api/v1/orders", tags=["orders"])


def _timed(rt: Runtime, work: Any) -> Any:
    """Runs `work` on a pooled connection; query time starts once the connection is checked out, so a
    wait for a free connection (a full pool) shows in latency, not as a slow database."""
    with rt.db.connect() as connection:
        started = time.monotonic()
        try:
            return work(connection)
        finally:
            rt.telemetry.record_query(time.monotonic() - started)


@router.get("", response_model=OrderList, responses=errors(503))
async def list_orders(rt: RuntimeDep, limit: Annotated[int, Query(ge=1, le=100)] = 20) -> OrderList:
    """The most recent orders, newest first."""
    rate = regional_tax_rate(rt.releases.current.defective)
    try:
        orders = await run_in_threadpool(_timed, rt, lambda c: OrderRepository.list(c, limit))
    except INFRA_ERRORS as exc:
        raise _unavailable(rt, exc, operation="list") from exc
    return OrderList(orders=[order.taxed(rate) for order in orders])


@router.get("/{order_id}", response_model=Order, responses=errors(404, 503))
async def get_order(rt: RuntimeDep, order_id: Annotated[int, Path(ge=1, le=SQLITE_MAX_INTEGER)]) -> Order:
    """One order by id."""
    rate = regional_tax_rate(rt.releases.current.defective)
    try:
        order = await run_in_threadpool(_timed, rt, lambda c: OrderRepository.get(c, order_id))
    except INFRA_ERRORS as exc:
        raise _unavailable(rt, exc, operation="get") from exc
    if order is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"order {order_id} not found")
    return order.taxed(rate)


def _store(rt: Runtime, body: OrderIn, available: int, total: float) -> Order:
    state = "accepted" if body.quantity <= available else "backordered"

    def work(connection: Connection) -> Order:
        with connection.begin():
            order = OrderRepository.add(connection, body.item, body.quantity, state, total)
            rt.storage.write_receipt(order.model_dump())
        return order

    return _timed(rt, work)  # type: ignore[no-any-return]


@router.post(
    "",
    response_model=Order,
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 500, 503, 507),
)
async def create_order(rt: RuntimeDep, body: OrderIn) -> Order:
    """Places an order after checking stock."""
    rate = regional_tax_rate(rt.releases.current.defective)
    total = round(body.quantity * UNIT_PRICE, 2)
    try:
        available = await rt.inventory.available(body.item)
    except InventoryUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    try:
        order = await run_in_threadpool(_store, rt, body, available, total)
    except INFRA_ERRORS as exc:
        raise _unavailable(rt, exc, operation="create", item=body.item) from exc
    return order.taxed(rate)
