"""Where a Spark batch job reads and writes: any Spark data source, described as data.

A :class:`SparkSource` is a path (Parquet, CSV, ORC or any file format Spark
reads), a table of the Spark catalog (Hive, a managed table, Delta or
Iceberg through their catalogs), a JDBC table or query, or a connector's
format and options (BigQuery through the spark-bigquery connector). A
:class:`SparkSink` is the same on the writing side, plus the partition column
that makes resumption Spark's own: every scored row carries a bucket number
(a hash of its id, or of the whole row), the output is partitioned by it,
and a resumed job overwrites — with dynamic partition overwrite — exactly the
buckets whose commit it did not record.

Nothing here imports PySpark; the classes are validated when built, so a bad
name or URL is refused before any JVM starts. Credentials never travel in
these objects, in URLs, on the command line or in records: JDBC user and
password come from the environment (:func:`jdbc_credentials`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.errors import InvalidInput

__all__ = [
    "DEFAULT_BUCKETS",
    "DEFAULT_PARTITION_COLUMN",
    "SparkSink",
    "SparkSource",
    "jdbc_credentials",
]

DEFAULT_BUCKETS = 8
DEFAULT_PARTITION_COLUMN = "batch_part"
FILE_FORMATS = ("parquet", "csv", "orc", "json", "avro", "delta")
JDBC_USER_ENV = "MODELYARD_JDBC_USER"
JDBC_PASSWORD_ENV = "MODELYARD_JDBC_PASSWORD"
JDBC_PASSWORD_FILE_ENV = "MODELYARD_JDBC_PASSWORD_FILE"
OUTPUT_PREFIX = "MODELYARD_OUTPUT_JDBC_"
_TABLE = re.compile(r"^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*){0,2}$")
_COLUMN = re.compile(r"^[A-Za-z_]\w*$")
_FORMAT = re.compile(r"^[A-Za-z][\w.-]*$")
# Option names that carry a secret itself (a connector's ``credentials`` is a
# base64 service-account key); ``credentialsFile`` names a mounted file and is fine.
_SECRET_NAMES = {"user", "password", "credentials", "key", "token", "secret"}
_SECRET_PARTS = ("password", "secret", "token", "privatekey", "accesskey", "apikey")
_NOT_SECRET = {"credentialsfile"}
_URL_SECRET = re.compile(r"(password|pwd|secret|token)\s*=", re.IGNORECASE)
_URL_USERINFO = re.compile(r"//[^/@]*:[^/@]*@")
# Oracle's thin URLs carry ``user/password@`` before the host: jdbc:oracle:thin:scott/tiger@//h/s
_URL_ORACLE_USERINFO = re.compile(r"^jdbc:oracle:\w+:[^@/:]+/[^@]+@", re.IGNORECASE)
_DRIVERS = {
    "jdbc:postgresql:": "org.postgresql.Driver",
    "jdbc:mysql:": "com.mysql.cj.jdbc.Driver",
    "jdbc:mariadb:": "org.mariadb.jdbc.Driver",
    "jdbc:sqlserver:": "com.microsoft.sqlserver.jdbc.SQLServerDriver",
    "jdbc:oracle:": "oracle.jdbc.OracleDriver",
    "jdbc:db2:": "com.ibm.db2.jcc.DB2Driver",
}


def _options(value: Mapping[str, Any] | None, field_name: str) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise InvalidInput(f"The '{field_name}' parameter must be a mapping of option to value.")
    items = []
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise InvalidInput(f"The '{field_name}' parameter has an empty or non-text key.")
        if _is_secret_option(key):
            raise InvalidInput(
                f"{field_name}: {key!r} is a credential; JDBC credentials come from "
                f"{JDBC_USER_ENV} and {JDBC_PASSWORD_ENV} (or {JDBC_PASSWORD_FILE_ENV}), "
                "connector credentials from the connector's own settings — never from options"
            )
        items.append((key, str(item)))
    return tuple(sorted(items))


def _is_secret_option(key: str) -> bool:
    lowered = key.lower().replace("_", "").replace("-", "").replace(".", "")
    if lowered in _NOT_SECRET:
        return False
    return (
        key.lower() in _SECRET_NAMES
        or lowered.endswith("credentials")
        or any(part in lowered for part in _SECRET_PARTS)
    )


def _check_table(name: Any, field_name: str) -> str:
    if not isinstance(name, str) or not _TABLE.match(name.strip()):
        raise InvalidInput(
            f"The '{field_name}' parameter must be a table name like db.loans "
            f"(catalog.db.table at most). Got {name!r}."
        )
    return name.strip()


def _check_jdbc_url(url: Any, field_name: str) -> str:
    if not isinstance(url, str) or not url.startswith("jdbc:"):
        raise InvalidInput(
            f"The '{field_name}' parameter must be a JDBC URL starting with 'jdbc:'. Got {url!r}."
        )
    if _URL_SECRET.search(url) or _URL_USERINFO.search(url) or _URL_ORACLE_USERINFO.search(url):
        raise InvalidInput(
            f"{field_name}: the JDBC URL holds a credential; remove it and set "
            f"{JDBC_USER_ENV} and {JDBC_PASSWORD_ENV} (or {JDBC_PASSWORD_FILE_ENV}) instead"
        )
    return url


def _check_format(value: Any, field_name: str) -> str:
    if not isinstance(value, str) or not _FORMAT.match(value):
        raise InvalidInput(
            f"The '{field_name}' parameter must be a Spark data source name such as parquet, "
            f"csv, orc or bigquery. Got {value!r}."
        )
    return value.lower()


def jdbc_driver(url: str) -> str | None:
    """The usual driver class for a JDBC URL (Spark needs it when the jar is added late)."""
    return next((cls for prefix, cls in _DRIVERS.items() if url.startswith(prefix)), None)


def jdbc_credentials(output: bool = False) -> dict[str, str]:
    """JDBC ``user``/``password`` from the environment, never from the command line.

    ``MODELYARD_JDBC_USER`` and ``MODELYARD_JDBC_PASSWORD`` (or
    ``MODELYARD_JDBC_PASSWORD_FILE``, a file holding it, e.g. a mounted secret);
    an output may use other ones, ``MODELYARD_OUTPUT_JDBC_USER`` / ``..._PASSWORD``
    / ``..._PASSWORD_FILE``. Missing values are left out (the driver may
    authenticate otherwise, e.g. trust or a Kerberos ticket).
    """
    found: dict[str, str] = {}
    prefixes = [OUTPUT_PREFIX, "MODELYARD_JDBC_"] if output else ["MODELYARD_JDBC_"]
    for key in ("user", "password"):
        for prefix in prefixes:
            value = os.environ.get(f"{prefix}{key.upper()}")
            if value is None and key == "password":
                path = os.environ.get(f"{prefix}PASSWORD_FILE")
                if path:
                    try:
                        value = Path(path).read_text(encoding="utf-8").strip()
                    except OSError as exc:
                        raise InvalidInput(
                            f"{prefix}PASSWORD_FILE: cannot read {path!r}: {exc}"
                        ) from exc
            if value is not None:
                found[key] = value
                break
    return found


@dataclass(frozen=True)
class SparkSource:
    """What a Spark batch job reads (build with :meth:`path`, :meth:`table`, ...).

    Attributes:
        kind: ``path``, ``table``, ``jdbc`` or ``connector``.
        location: The path(s), table name or JDBC URL ("" for a connector).
        format: The file format (``path``) or the connector's name (``connector``).
        jdbc_table: The JDBC table to read (``jdbc``; or ``query``).
        query: A SQL query to read instead of a table (``jdbc``).
        options: Reader options (no credentials).
    """

    kind: str
    location: str
    format: str | None = None
    jdbc_table: str | None = None
    query: str | None = None
    options: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def path(
        cls, path: str | Path, format: str = "parquet", options: Mapping[str, Any] | None = None
    ) -> SparkSource:
        """Files Spark reads: a file, folder or glob, on any filesystem Spark knows."""
        text = str(path).strip()
        if not text:
            raise InvalidInput("The 'input' parameter must be a path, folder or glob.")
        fmt = _check_format(format, "input_format")
        opts = dict(_options(options, "input_options"))
        if fmt == "csv":
            opts.setdefault("header", "true")
        if "://" not in text:
            text = os.path.abspath(os.path.expanduser(text))
        return cls("path", text, fmt, options=tuple(sorted(opts.items())))

    @classmethod
    def table(cls, name: str) -> SparkSource:
        """A table of the session's catalog, e.g. ``db.loans`` (Hive, managed, Delta, Iceberg)."""
        return cls("table", _check_table(name, "input_table"))

    @classmethod
    def jdbc(
        cls,
        url: str,
        *,
        table: str | None = None,
        query: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> SparkSource:
        """A table or query over JDBC; credentials come from :func:`jdbc_credentials`."""
        url = _check_jdbc_url(url, "input_jdbc")
        if (table is None) == (query is None):
            raise InvalidInput(
                "jdbc_table: give exactly one of --jdbc-table and --jdbc-query with --input-jdbc"
            )
        if table is not None:
            table = _check_table(table, "jdbc_table")
        if query is not None and (not isinstance(query, str) or not query.strip()):
            raise InvalidInput("The 'jdbc_query' parameter must be a SQL query.")
        return cls("jdbc", url, jdbc_table=table, query=query, options=_options(options, "options"))

    @classmethod
    def connector(cls, format: str, options: Mapping[str, Any]) -> SparkSource:
        """Any other Spark data source by name (e.g. ``bigquery`` with ``table``=...)."""
        fmt = _check_format(format, "input_format")
        opts = _options(options, "input_options")
        if not opts:
            raise InvalidInput(
                f"input_options: input format {fmt!r} needs --input-option KEY=VALUE "
                "(e.g. table=project.ds.loans)"
            )
        return cls("connector", "", fmt, options=opts)

    def describe(self) -> str:
        """A one-line description for records and messages (never a credential)."""
        if self.kind == "path":
            return f"{self.format}:{self.location}"
        if self.kind == "table":
            return f"table:{self.location}"
        if self.kind == "jdbc":
            what = self.jdbc_table if self.jdbc_table else f"query({self.query})"
            return f"{self.location} {what}"
        return f"{self.format}:" + ",".join(f"{k}={v}" for k, v in self.options)

    @property
    def text_input(self) -> bool:
        """Whether the values arrive as text (CSV without schema inference)."""
        opts = dict(self.options)
        return self.format == "csv" and opts.get("inferSchema", "false").lower() != "true"


@dataclass(frozen=True)
class SparkSink:
    """Where a Spark batch job writes its scores (and its rejects).

    Attributes:
        kind: ``path``, ``table``, ``jdbc`` or ``connector``.
        location: The folder, table name or JDBC URL ("" for a connector).
        format: The file format (``path``; ``table`` when it creates the table) or connector.
        jdbc_table: The JDBC table to write (``jdbc``).
        options: Writer options (no credentials).
        buckets: Values of the partition column: the unit of commit and resumption.
        partition_column: Added to every row; the output is partitioned by it
            (``path``, ``table``).
    """

    kind: str
    location: str
    format: str | None = None
    jdbc_table: str | None = None
    options: tuple[tuple[str, str], ...] = field(default=())
    buckets: int = DEFAULT_BUCKETS
    partition_column: str = DEFAULT_PARTITION_COLUMN

    def __post_init__(self) -> None:
        if isinstance(self.buckets, bool) or not isinstance(self.buckets, int):
            raise InvalidInput(f"The 'buckets' parameter must be an integer. Got {self.buckets!r}.")
        if not 1 <= self.buckets <= 10_000:
            raise InvalidInput(
                f"The 'buckets' parameter must be from 1 to 10000. Got {self.buckets!r}."
            )
        if not isinstance(self.partition_column, str) or not _COLUMN.match(self.partition_column):
            raise InvalidInput(
                "The 'partition_column' parameter must be a column name (letters, digits, _). "
                f"Got {self.partition_column!r}."
            )
        if self.partition_column.startswith("_"):
            raise InvalidInput(
                "The 'partition_column' parameter must not start with '_' (readers hide such "
                f"folders). Got {self.partition_column!r}."
            )

    @classmethod
    def path(
        cls,
        path: str | Path,
        format: str = "parquet",
        *,
        options: Mapping[str, Any] | None = None,
        buckets: int = DEFAULT_BUCKETS,
        partition_column: str = DEFAULT_PARTITION_COLUMN,
    ) -> SparkSink:
        """A folder of files partitioned by ``partition_column`` (Parquet by default)."""
        text = str(path).strip()
        if not text:
            raise InvalidInput("The 'output' parameter must be a folder path or URL.")
        if "://" not in text:
            text = os.path.abspath(os.path.expanduser(text))
        fmt = _check_format(format, "output_format")
        opts = _options(options, "output_options")
        return cls("path", text, fmt, None, opts, buckets, partition_column)

    @classmethod
    def table(
        cls,
        name: str,
        *,
        format: str = "parquet",
        buckets: int = DEFAULT_BUCKETS,
        partition_column: str = DEFAULT_PARTITION_COLUMN,
    ) -> SparkSink:
        """A catalog table, created partitioned (``saveAsTable``) or filled (``insertInto``)."""
        name = _check_table(name, "output_table")
        fmt = _check_format(format, "output_format")
        return cls("table", name, fmt, None, (), buckets, partition_column)

    @classmethod
    def jdbc(
        cls,
        url: str,
        table: str,
        *,
        options: Mapping[str, Any] | None = None,
        buckets: int = DEFAULT_BUCKETS,
        partition_column: str = DEFAULT_PARTITION_COLUMN,
    ) -> SparkSink:
        """A JDBC table, rewritten whole by each attempt (a database has no partition commit)."""
        url = _check_jdbc_url(url, "output_jdbc")
        name = _check_table(table, "output_jdbc_table")
        opts = _options(options, "output_options")
        return cls("jdbc", url, None, name, opts, buckets, partition_column)

    @classmethod
    def connector(
        cls,
        format: str,
        options: Mapping[str, Any],
        *,
        buckets: int = DEFAULT_BUCKETS,
        partition_column: str = DEFAULT_PARTITION_COLUMN,
    ) -> SparkSink:
        """Any other Spark data source by name (e.g. ``bigquery``), rewritten whole per attempt."""
        fmt = _check_format(format, "output_format")
        opts = _options(options, "output_options")
        if not opts:
            raise InvalidInput(
                f"output_options: output format {fmt!r} needs --output-option KEY=VALUE "
                "(e.g. table=project.ds.x)"
            )
        return cls("connector", "", fmt, None, opts, buckets, partition_column)

    @property
    def partial_resume(self) -> bool:
        """Whether buckets commit one group at a time (files and tables) or all at once."""
        return self.kind in ("path", "table")

    def describe(self) -> str:
        if self.kind == "path":
            return self.location
        if self.kind == "table":
            return f"table:{self.location}"
        if self.kind == "jdbc":
            return f"{self.location} {self.jdbc_table}"
        return f"{self.format}:" + ",".join(f"{k}={v}" for k, v in self.options)

    def rejects(self) -> SparkSink:
        """Where rejected rows go: ``<folder>/_rejects``, or the table name + ``_rejects``."""
        if self.kind == "path":
            return SparkSink(
                "path", self.location.rstrip("/") + "/_rejects", self.format, None,
                self.options, self.buckets, self.partition_column,
            )  # fmt: skip
        if self.kind == "table":
            return SparkSink(
                "table", self.location + "_rejects", self.format, None, (),
                self.buckets, self.partition_column,
            )  # fmt: skip
        if self.kind == "jdbc":
            return SparkSink(
                "jdbc", self.location, None, f"{self.jdbc_table}_rejects", self.options,
                self.buckets, self.partition_column,
            )  # fmt: skip
        opts = dict(self.options)
        if "table" in opts:
            opts["table"] = opts["table"] + "_rejects"
        return SparkSink(
            "connector", "", self.format, None, tuple(sorted(opts.items())),
            self.buckets, self.partition_column,
        )  # fmt: skip


def parse_options(pairs: Sequence[str] | None, field_name: str) -> dict[str, str]:
    """``KEY=VALUE`` strings (as the CLI repeats them) as a mapping."""
    found: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{field_name}: expected KEY=VALUE, got {pair!r}")
        found[key.strip()] = value
    return found


def source_from_options(
    *,
    input: str | None = None,
    input_table: str | None = None,
    input_jdbc: str | None = None,
    jdbc_table: str | None = None,
    jdbc_query: str | None = None,
    input_format: str | None = None,
    input_options: Mapping[str, Any] | None = None,
) -> SparkSource | None:
    """The Spark source the CLI's options name, or None when they name plain files only."""
    given = [n for n, v in (("--input", input), ("--input-table", input_table),
                            ("--input-jdbc", input_jdbc)) if v]  # fmt: skip
    if len(given) > 1:
        raise InvalidInput(f"input: give one of {', '.join(given)}, not several")
    if (jdbc_table or jdbc_query) and not input_jdbc:
        raise InvalidInput("jdbc_table: --jdbc-table and --jdbc-query go with --input-jdbc URL")
    if input_table:
        return SparkSource.table(input_table)
    if input_jdbc:
        return SparkSource.jdbc(input_jdbc, table=jdbc_table, query=jdbc_query,
                                options=input_options)  # fmt: skip
    if input and input_format:
        return SparkSource.path(input, input_format, input_options)
    if input_format:
        return SparkSource.connector(input_format, input_options or {})
    if input_options:
        raise InvalidInput("input_options: --input-option goes with --input-format or --input-jdbc")
    return None


def sink_from_options(
    *,
    output: str | None = None,
    output_table: str | None = None,
    output_jdbc: str | None = None,
    output_jdbc_table: str | None = None,
    output_format: str | None = None,
    output_options: Mapping[str, Any] | None = None,
    buckets: int | None = None,
    partition_column: str | None = None,
    spark_source: bool = False,
) -> SparkSink | None:
    """The Spark sink the CLI's options name (a plain folder too when the input is Spark's)."""
    given = [n for n, v in (("--output", output), ("--output-table", output_table),
                            ("--output-jdbc", output_jdbc)) if v]  # fmt: skip
    if len(given) > 1:
        raise InvalidInput(f"output: give one of {', '.join(given)}, not several")
    shape: dict[str, Any] = {}
    if buckets is not None:
        shape["buckets"] = buckets
    if partition_column is not None:
        shape["partition_column"] = partition_column
    if output_table:
        return SparkSink.table(output_table, format=output_format or "parquet", **shape)
    if output_jdbc:
        if not output_jdbc_table:
            raise InvalidInput("output_jdbc_table: --output-jdbc needs --output-jdbc-table NAME")
        return SparkSink.jdbc(output_jdbc, output_jdbc_table, options=output_options, **shape)
    if output_jdbc_table:
        raise InvalidInput("output_jdbc_table: --output-jdbc-table goes with --output-jdbc URL")
    if output and (output_format or output_options or shape or spark_source):
        return SparkSink.path(output, output_format or "parquet", options=output_options, **shape)
    if output_format:
        return SparkSink.connector(output_format, output_options or {}, **shape)
    if shape:
        raise InvalidInput("buckets: --buckets and --partition-column go with a Spark output")
    return None
