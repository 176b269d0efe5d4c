"""The whole pickup flow through a client generated from openapi/openapi.json by
openapi-python-client: every call is one of the client's typed functions, and every answer is
checked as the typed model it parses into.

usage: python pickup_flow.py BASE_URL ADMIN_TOKEN STAFF_TOKEN(store FLOW1) CUSTOMER_TOKEN(sub flow-ann)
"""
import sys
import uuid

from cc_client import AuthenticatedClient
from cc_client.api.customers import put_customer
from cc_client.api.locations import put_location
from cc_client.api.orders import (
    create_order,
    find_orders,
    get_order,
    get_pickup_pass,
    list_store_orders,
    mark_ready,
    scan_pickup,
    start_picking,
)
from cc_client.api.products import put_product
from cc_client.api.reservations import create_hold, get_hold
from cc_client.api.stock import get_stock_level, list_stock_movements, set_stock_count
from cc_client.models import (
    Channels,
    CountForm,
    CountResult,
    Customer,
    CustomerForm,
    Fulfilment,
    HoldLine,
    HoldStatus,
    Location,
    LocationForm,
    LocationKind,
    Money,
    NewHold,
    NewOrder,
    Order,
    PaginatedMovement,
    PaginatedOrder,
    PaginatedStoreOrder,
    PickupOptions,
    PickupPass,
    PickupScan,
    Product,
    ProductForm,
    Reservation,
    Status,
    StockLevel,
)
from cc_client.models.time_zone import TimeZone

base, admin_token, staff_token, customer_token = sys.argv[1:5]
STORE, SKU, CUSTOMER = "FLOW1", "FLOW-MUG", "flow-ann"
admin = AuthenticatedClient(base_url=base, token=admin_token, raise_on_unexpected_status=True)
staff = AuthenticatedClient(base_url=base, token=staff_token, raise_on_unexpected_status=True)
shopper = AuthenticatedClient(base_url=base, token=customer_token, raise_on_unexpected_status=True)


def expect(response, model, status, step):
    parsed = response.parsed
    if int(response.status_code) != status or not isinstance(parsed, model):
        sys.exit(f"{step}: expected {status} {model.__name__}, got {int(response.status_code)}: {response.content[:500]!r}")
    print(f"ok  {step}: {int(response.status_code)} {model.__name__}")
    return parsed


def key():
    return str(uuid.uuid4())


expect(
    put_location.sync_detailed(
        STORE,
        client=admin,
        body=LocationForm(
            name="Flow Store",
            kind=LocationKind.STORE,
            timezone=TimeZone.EUROPE_WARSAW,
            pickup=PickupOptions(in_store=True, curbside=True),
            pickup_hold_days=2,
            fulfils_online=True,
            active=True,
        ),
        idempotency_key=key(),
    ),
    Location,
    201,
    "create the store",
)
expect(
    put_product.sync_detailed(SKU, client=admin, body=ProductForm(name="Mug", price=Money(amount_minor=1299, currency="EUR"))),
    Product,
    201,
    "create the product",
)
counted = expect(
    set_stock_count.sync_detailed(STORE, SKU, client=admin, body=CountForm(on_hand=5), idempotency_key=key()),
    CountResult,
    200,
    "count the shelf",
)
assert counted.applied and counted.on_hand == 5, counted
expect(
    put_customer.sync_detailed(
        CUSTOMER,
        client=shopper,
        body=CustomerForm(name="Ann", channels=Channels(email=False, sms=False, push=False, webhook=False)),
    ),
    Customer,
    201,
    "the shopper's profile",
)
hold = expect(
    create_hold.sync_detailed(
        client=shopper, body=NewHold(location=STORE, lines=[HoldLine(sku=SKU, quantity=2)]), idempotency_key=key()
    ),
    Reservation,
    201,
    "hold two mugs",
)
assert hold.status == HoldStatus.HELD
assert expect(get_hold.sync_detailed(hold.id, client=shopper), Reservation, 200, "read the hold").id == hold.id
order_key = key()
order = expect(
    create_order.sync_detailed(
        client=shopper,
        body=NewOrder(location=STORE, fulfilment=Fulfilment.PICKUP, customer_id=CUSTOMER, reservation_id=hold.id),
        idempotency_key=order_key,
    ),
    Order,
    201,
    "order the held mugs",
)
assert order.status == Status.CONFIRMED and order.number, order
again = create_order.sync_detailed(
    client=shopper,
    body=NewOrder(location=STORE, fulfilment=Fulfilment.PICKUP, customer_id=CUSTOMER, reservation_id=hold.id),
    idempotency_key=order_key,
)
assert expect(again, Order, 201, "retry the order with its key").id == order.id
assert again.headers.get("idempotent-replayed") == "true"
listed = expect(list_store_orders.sync_detailed(STORE, client=staff), PaginatedStoreOrder, 200, "the store's list")
assert [o.id for o in listed.items] == [order.id], listed
expect(start_picking.sync_detailed(order.id, client=staff, idempotency_key=key()), Order, 200, "start picking")
ready = expect(mark_ready.sync_detailed(order.id, client=staff, idempotency_key=key()), Order, 200, "mark ready")
assert ready.status == Status.READY_FOR_PICKUP and ready.pickup_deadline, ready
mine = expect(get_order.sync_detailed(order.id, client=shopper), Order, 200, "the shopper reads the order")
pickup_pass = expect(get_pickup_pass.sync_detailed(order.id, client=shopper), PickupPass, 200, "the pickup pass")
assert pickup_pass.code == mine.pickup_code and pickup_pass.number == order.number, pickup_pass
collected = expect(
    scan_pickup.sync_detailed(STORE, client=staff, body=PickupScan(code=pickup_pass.code), idempotency_key=key()),
    Order,
    200,
    "scan the code at the counter",
)
assert collected.status == Status.COLLECTED, collected
found = expect(find_orders.sync_detailed(client=admin, number=order.number), PaginatedOrder, 200, "find by number")
assert [o.id for o in found.items] == [order.id], found
level = expect(get_stock_level.sync_detailed(STORE, SKU, client=admin), StockLevel, 200, "the level after handover")
assert (level.on_hand, level.reserved, level.available, level.shortfall) == (3, 0, 3, 0), level
ledger = expect(list_stock_movements.sync_detailed(STORE, SKU, client=admin), PaginatedMovement, 200, "the ledger")
assert sum(m.delta_on_hand for m in ledger.items) == 3 and sum(m.delta_reserved for m in ledger.items) == 0
print("the pickup flow ran end to end through the generated client")
