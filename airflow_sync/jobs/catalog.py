"""Reading many stored jobs without decoding them every time.

A job's Variable holds Fernet-encrypted JSON; decrypting, parsing and rebuilding 1,000 jobs costs far more
than reading the rows. Decoded jobs are kept per process, keyed by the Variable's key **and a fingerprint
of its stored value**: every read still asks the database for the current rows, and a row whose value is
not the one decoded before (any write re-encrypts, with a fresh IV) is decoded again. So several
api-server processes, writes through any of them, a rotated Fernet key or an edit with ``airflow variables
set`` are all seen on the next read — nothing is served from memory that the database no longer holds. The
memory is one decoded job per stored job (entries of deleted jobs are dropped when the full set is read).

The fingerprint of an encrypted value is its Fernet HMAC (the token's last 44 characters: it covers the
random IV and the whole ciphertext, so every write has a new one), of a plain value its MD5 (a change
detector, not a security measure: whoever could forge a collision can write the Variable anyway). PostgreSQL
and MySQL compute it, so an unchanged job's value does not even cross the wire. A stored value that does
not decode is logged once per value and left out, as :func:`store.list_jobs` always did.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airflow_sync.jobs.model import Job

log = logging.getLogger(__name__)

_lock = threading.Lock()
#: Variable key -> (md5 of the stored value, is_encrypted, decoded job or None when it does not decode)
_decoded: dict[str, tuple[str, bool, Job | None]] = {}
#: IN lists are split so no database's parameter limit is reached
_CHUNK = 500
#: databases that give a stored value's fingerprint themselves (values then cross the wire only when changed)
_SQL_FINGERPRINT = ("postgresql", "mysql")
#: a Fernet token ends with the base64 of its HMAC-SHA256 over everything before it (incl. a random IV)
_FERNET_TAIL = 44


def _md5(val: str | None, encrypted: bool = False) -> str:
    """The fingerprint of a stored value: an encrypted one's Fernet HMAC (unique per encryption, and
    authenticating the whole token), else the MD5 of the text."""
    if encrypted and val:
        return val[-_FERNET_TAIL:]
    return hashlib.md5((val or "").encode("utf-8"), usedforsecurity=False).hexdigest()


def _sql_fingerprint(val: Any, encrypted: Any) -> Any:
    """:func:`_md5` computed by the database (the tail costs nothing; MD5 only for plain values)."""
    from sqlalchemy import case, func

    return case((encrypted, func.right(val, _FERNET_TAIL)), else_=func.md5(val))


def _decode(key: str, val: str | None, encrypted: bool) -> Job | None:
    from airflow_sync.jobs.store import decode

    try:
        raw = val
        if val is not None and encrypted:
            from airflow.models.crypto import get_fernet

            raw = get_fernet().decrypt(val.encode("utf-8")).decode("utf-8")
        if raw is None:
            return None
        return decode(key, raw)
    except Exception as exc:
        log.warning("Skipping stored job %s: %s: %s", key, type(exc).__name__, exc)
        return None


def _cached(key: str, digest: str, encrypted: bool) -> tuple[bool, Job | None]:
    with _lock:
        hit = _decoded.get(key)
    if hit is not None and hit[0] == digest and hit[1] == encrypted:
        return True, hit[2]
    return False, None


def _remember(key: str, val: str | None, encrypted: bool, digest: str | None = None) -> Job | None:
    job = _decode(key, val, encrypted)
    with _lock:
        _decoded[key] = (digest or _md5(val, encrypted), encrypted, job)
    return job


def _values(keys: list[str], session: Session) -> list[Any]:
    """``(key, _val, is_encrypted)`` rows of these Variable keys."""
    from airflow.models.variable import Variable
    from sqlalchemy import select

    rows: list[Any] = []
    for i in range(0, len(keys), _CHUNK):
        stmt = select(Variable.key, Variable._val, Variable.is_encrypted).where(
            Variable.key.in_(keys[i : i + _CHUNK])
        )
        rows.extend(session.execute(stmt))
    return rows


def read_all(session: Session) -> list[Job]:
    """Every stored job that loads, sorted by name.

    On PostgreSQL and MySQL the database gives each stored value's fingerprint and only changed values are
    read; on other databases every value is read and fingerprinted here.
    """
    from airflow.models.variable import Variable
    from sqlalchemy import select

    from airflow_sync.jobs.store import VARIABLE_PREFIX

    ours = Variable.key.startswith(VARIABLE_PREFIX, autoescape=True)  # "_" is a LIKE wildcard
    jobs: dict[str, Job] = {}
    if session.get_bind().dialect.name in _SQL_FINGERPRINT:
        fingerprint = _sql_fingerprint(Variable._val, Variable.is_encrypted)
        rows = [
            r
            for r in session.execute(select(Variable.key, fingerprint, Variable.is_encrypted).where(ours))
            if r[0].startswith(VARIABLE_PREFIX)
        ]
        stale: dict[str, str] = {}
        for key, digest, encrypted in rows:
            hit, job = _cached(key, digest or _md5(None), bool(encrypted))
            if not hit:
                stale[key] = digest or _md5(None)
            elif job is not None:
                jobs[key] = job
        for key, val, encrypted in _values(sorted(stale), session):
            job = _remember(key, val, bool(encrypted))
            if job is not None:
                jobs[key] = job
    else:
        values = select(Variable.key, Variable._val, Variable.is_encrypted).where(ours)
        rows = [r for r in session.execute(values) if r[0].startswith(VARIABLE_PREFIX)]
        jobs = _jobs_of(rows)
    present = {r[0] for r in rows}
    with _lock:
        for key in [k for k in _decoded if k not in present]:
            del _decoded[key]
    return sorted(jobs.values(), key=lambda j: j.name)


def _jobs_of(rows: Iterable[Any]) -> dict[str, Job]:
    """Variable key -> job for ``(key, _val, is_encrypted)`` rows, decoding only what changed."""
    out: dict[str, Job] = {}
    for key, val, encrypted in rows:
        digest = _md5(val, bool(encrypted))
        hit, job = _cached(key, digest, bool(encrypted))
        if not hit:
            job = _remember(key, val, bool(encrypted), digest)
        if job is not None:
            out[key] = job
    return out


def read_names(names: Iterable[str], *, session: Session) -> dict[str, Job]:
    """The stored jobs of these names (JobName -> job; names without a loadable job are left out)."""
    from airflow_sync.jobs.store import VARIABLE_PREFIX

    keys = sorted({VARIABLE_PREFIX + n for n in names if "\x00" not in n})
    return {job.name: job for job in _jobs_of(_values(keys, session)).values()}


def clear() -> None:
    """Forget every decoded job (tests)."""
    with _lock:
        _decoded.clear()
