"""schemathesis hooks of ``test_openapi_live.py`` (loaded with ``SCHEMATHESIS_HOOKS``).

A request can be valid by the OpenAPI document and still be refused for a reason no JSON Schema can state:
the Airflow connection named in ``Source`` does not exist, a ``REPLICATE`` statement or a cron expression
does not parse, ``Query#2`` without ``Query#1``, an OData ``$filter`` with a syntax error, a ``Scheduled``
flag on a job that has no cron yet. The run lets such a request get a 400 (``positive_data_acceptance`` with
400 among the expected statuses), and this check makes that allowance exact: a 400 for a schema-valid
request must name (``error.target``, and every ``error.details[].target``) one of the fields below for that
operation. Any other 400 to a schema-valid request — a type, length, pattern or requiredness the document
got wrong — fails the run.
"""

from __future__ import annotations

import re

import schemathesis

#: fields validated beyond their schema, per operation (method, path template)
_JOB_SEMANTIC = re.compile(
    r"^(Source|Destination|ScheduledCron|NotifyEmailTo|PreJob|PostJob|OtherCacheOptions|ReplicateStartDate"
    r"|Query#\d+)$"
)
SEMANTIC: dict[tuple[str, str], re.Pattern[str]] = {
    ("POST", "/jobs"): _JOB_SEMANTIC,
    # a modify is checked against the stored job: a new name, or a flag whose companion field is missing
    ("PUT", "/jobs({key})"): re.compile(
        _JOB_SEMANTIC.pattern[:-2] + r"|JobName|Scheduled|SendEmailNotification)$"
    ),
    ("GET", "/jobs"): re.compile(r"^\$filter$"),
    ("GET", "/jobs/$count"): re.compile(r"^\$filter$"),
    ("GET", "/history"): re.compile(r"^\$filter$"),
    ("GET", "/history/$count"): re.compile(r"^\$filter$"),
    # the named queries must be queries of the job (and at least one must be named)
    ("POST", "/executeQuery"): re.compile(r"^(Query|Query#\d+)$"),
    # the Sync Jobs page's schedule preview: the cron is parsed as a job's is
    ("POST", "/previewSchedule"): re.compile(r"^ScheduledCron$"),
    # connections: the provider must be installed and every connection-string key usable by it (named in the
    # message); a modify may send Name/ProviderName only unchanged; a database that cannot be reached
    ("POST", "/connections"): re.compile(r"^(ProviderName|ConnectionString)$"),
    ("PUT", "/connections({key})"): re.compile(r"^(Name|ProviderName|ConnectionString)$"),
    ("GET", "/connections"): re.compile(r"^\$filter$"),
    ("GET", "/connections/$count"): re.compile(r"^\$filter$"),
    ("POST", "/getConnectionTables"): re.compile(r"^ConnectionName$"),
    ("POST", "/getConnectionTableColumns"): re.compile(r"^(ConnectionName|Table)$"),
    # tasks: the new query list is validated as a job modify (a statement that does not parse, an Index past
    # the end, a body naming another job than the key; the job's connections are checked again)
    ("GET", "/tasks"): re.compile(r"^\$filter$"),
    ("GET", "/tasks/$count"): re.compile(r"^\$filter$"),
    ("POST", "/tasks"): re.compile(r"^(Query|Table|Index|Source|Destination)$"),
    ("PUT", "/tasks({key})"): re.compile(r"^(Query|Table|Index|JobName|Source|Destination)$"),
    ("PUT", "/tasks"): re.compile(r"^(Query|Table|Index|JobName|Source|Destination)$"),
    ("DELETE", "/tasks"): re.compile(r"^(Source|Destination)$"),
}


@schemathesis.check
def semantic_rejections_only(ctx, response, case):
    """A 400 to a schema-valid request names only fields that are validated beyond their schema."""
    meta = case.meta
    if response.status_code != 400 or meta is None or not meta.generation.mode.is_positive:
        return None
    try:
        error = response.json()["error"]
    except Exception as exc:  # the envelope itself is checked by response_schema_conformance
        raise AssertionError(f"400 without the error envelope: {response.text[:300]}") from exc
    allowed = SEMANTIC.get((case.operation.method.upper(), case.operation.path))
    targets = [error.get("target")] + [d.get("target") for d in error.get("details") or []]
    wrong = [t for t in targets if allowed is None or not isinstance(t, str) or not allowed.match(t)]
    if wrong:
        raise AssertionError(
            f"A schema-valid request was refused for {wrong!r}, which the OpenAPI document could have "
            f"stated: {error.get('message', '')[:400]}"
        )
    return None
