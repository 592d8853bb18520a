"""Deterministic sample data for the demo: a small shop database (SQLite) and an empty warehouse.

Same seed, same rows, on every machine, so the demo's printed counts are reproducible.
"""

from __future__ import annotations

import os
import random
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

CUSTOMERS = 240
PRODUCTS = 60
ORDERS = 900
#: orders on or after this date are "recent" (the demo job's third query selects them)
RECENT_SINCE = "2024-05-01"

_FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Margaret",
    "Dennis",
    "Radia",
    "Tim",
    "Katherine",
    "John",
    "Hedy",
    "Linus",
    "Sophie",
    "Guido",
    "Anita",
    "Niklaus",
]
_LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Hamilton",
    "Ritchie",
    "Perlman",
    "Berners-Lee",
    "Johnson",
    "McCarthy",
    "Lamarr",
    "Torvalds",
    "Wilson",
    "van Rossum",
    "Borg",
    "Wirth",
]
_COUNTRIES = ["DE", "FR", "NL", "US", "GB", "SE", "ES", "IT", "PL", "JP"]
_CATEGORIES = {
    "Books": ["Field Guide", "Cookbook", "Novel", "Atlas", "Notebook"],
    "Garden": ["Trowel", "Watering Can", "Seed Mix", "Planter", "Hose"],
    "Kitchen": ["Kettle", "Skillet", "Knife Set", "Grinder", "Teapot"],
    "Outdoor": ["Tent", "Lantern", "Backpack", "Sleeping Bag", "Stove"],
}
_EPOCH = datetime(2024, 1, 1, 8, 0, 0)

SCHEMA = """
CREATE TABLE Customers (
    CustomerId INTEGER PRIMARY KEY,
    FirstName  VARCHAR(40) NOT NULL,
    LastName   VARCHAR(40) NOT NULL,
    Email      VARCHAR(120) NOT NULL,
    Country    CHAR(2) NOT NULL,
    CreatedAt  DATETIME NOT NULL,
    updated_at DATETIME NOT NULL
);
CREATE TABLE Products (
    ProductId INTEGER PRIMARY KEY,
    Name      VARCHAR(80) NOT NULL,
    Category  VARCHAR(20) NOT NULL,
    Price     REAL NOT NULL
);
CREATE TABLE Orders (
    OrderId    INTEGER PRIMARY KEY,
    CustomerId INTEGER NOT NULL REFERENCES Customers (CustomerId),
    ProductId  INTEGER NOT NULL REFERENCES Products (ProductId),
    Quantity   INTEGER NOT NULL,
    Amount     REAL NOT NULL,
    Status     VARCHAR(12) NOT NULL,
    OrderDate  DATETIME NOT NULL
);
"""


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _rows(seed: int = 42) -> tuple[list[tuple], list[tuple], list[tuple]]:
    rnd = random.Random(seed)
    customers = []
    for cid in range(1, CUSTOMERS + 1):
        first, last = rnd.choice(_FIRST), rnd.choice(_LAST)
        created = _EPOCH + timedelta(days=rnd.randrange(0, 150), minutes=rnd.randrange(0, 600))
        updated = created + timedelta(days=rnd.randrange(0, 30), minutes=rnd.randrange(0, 600))
        email = f"{first}.{last}.{cid}@example.com".lower().replace(" ", "")
        customers.append((cid, first, last, email, rnd.choice(_COUNTRIES), _ts(created), _ts(updated)))
    products = []
    for pid in range(1, PRODUCTS + 1):
        category = rnd.choice(sorted(_CATEGORIES))
        name = f"{rnd.choice(_CATEGORIES[category])} {chr(65 + pid % 26)}{pid:02d}"
        products.append((pid, name, category, round(rnd.uniform(3, 250), 2)))
    orders = []
    for oid in range(1, ORDERS + 1):
        product = products[rnd.randrange(PRODUCTS)]
        qty = rnd.randint(1, 5)
        when = _EPOCH + timedelta(days=rnd.randrange(0, 182), minutes=rnd.randrange(0, 720))
        status = rnd.choices(["shipped", "delivered", "cancelled", "open"], weights=[5, 8, 1, 2])[0]
        orders.append(
            (oid, rnd.randint(1, CUSTOMERS), product[0], qty, round(product[3] * qty, 2), status, _ts(when))
        )
    return customers, products, orders


def create_source_db(path: Path, seed: int = 42) -> dict[str, int]:
    """(Re)create the demo source database atomically (written aside, then renamed over the old file).

    :param path: the SQLite file to create
    :param seed: random seed of the sample data
    :return: row count per table, plus ``orders_recent`` (orders since :data:`RECENT_SINCE`)
    """
    customers, products, orders = _rows(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    with sqlite3.connect(tmp) as db:
        db.executescript(SCHEMA)
        db.executemany("INSERT INTO Customers VALUES (?, ?, ?, ?, ?, ?, ?)", customers)
        db.executemany("INSERT INTO Products VALUES (?, ?, ?, ?)", products)
        db.executemany("INSERT INTO Orders VALUES (?, ?, ?, ?, ?, ?, ?)", orders)
    os.replace(tmp, path)
    recent = sum(1 for o in orders if o[6] >= RECENT_SINCE and o[5] != "cancelled")
    return {
        "Customers": len(customers),
        "Products": len(products),
        "Orders": len(orders),
        "orders_recent": recent,
    }


def create_empty_db(path: Path) -> None:
    """An empty SQLite database (the demo warehouse); an existing one is replaced.

    :param path: the SQLite file
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    sqlite3.connect(path).close()


def table_counts(path: Path) -> dict[str, int]:
    """Row count of every user table of a SQLite database (internal state tables excluded).

    :param path: the SQLite file
    """
    if not path.exists():
        return {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        names = [
            r[0]
            for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            if not r[0].startswith(("sqlite_", "_airflow_sync"))
        ]
        return {
            n: db.execute(f'SELECT COUNT(*) FROM "{n.replace(chr(34), chr(34) * 2)}"').fetchone()[0]
            for n in names
        }
