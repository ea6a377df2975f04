"""How to read a product's port: DuckDB, Polars, pandas and Spark snippets with the port's real
address in this deployment (a local path, or an s3:// URI from the port store) and the settings a
reader's client needs (endpoint, region, which credentials variables: never a value).

A product with personal columns has two addresses: the raw port, for its owner and the domains
its descriptor names as personal-data readers, and its masked projection, for every other reader
(runtime/projection.py). The guide gives both, each for whom it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from mesh_platform.model.errors import MeshError

# The credentials a reader's client takes from the environment: named, never filled in.
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


@dataclass(frozen=True)
class Address:
    """Where one port lies, as its ODCS server entry says (store.server_entry)."""

    location: str  # a local path or an s3:// URI
    endpoint: str | None = None  # an S3-compatible store's endpoint (None: AWS's own, or local)
    region: str | None = None

    @classmethod
    def of(cls, server: dict) -> Address:
        return cls(server.get("location") or server["path"], server.get("endpointUrl"), server.get("region"))

    @property
    def remote(self) -> bool:
        return "://" in self.location and not self.location.startswith("file://")

    def storage_options(self) -> dict[str, str]:
        """What deltalake, Polars and pandas need besides the reader's own keys."""
        if not self.remote:
            return {}
        options = {"AWS_REGION": self.region} if self.region else {}
        if self.endpoint:
            options["AWS_ENDPOINT_URL"] = self.endpoint
            if self.endpoint.startswith("http://"):
                options["AWS_ALLOW_HTTP"] = "true"  # a plain-HTTP endpoint (a local store)
        return options

    def settings(self) -> list[str]:
        """The settings a reader needs, in words (empty for a local path)."""
        if not self.remote:
            return []
        lines = [f"endpoint: {self.endpoint or 'AWS S3 (no custom endpoint)'}"]
        lines += [f"region: {self.region}"] if self.region else []
        lines.append(f"credentials: your domain's storage identity, as {' and '.join(CREDENTIAL_VARIABLES)} in the environment")
        return lines


@dataclass(frozen=True)
class Snippet:
    tool: str
    language: str  # sql or python
    code: str


def _py_options(address: Address) -> str:
    options = address.storage_options()
    if not options:
        return ""
    pairs = ", ".join(f'"{k}": "{v}"' for k, v in options.items())
    return ", storage_options={" + pairs + "}  # keys: " + ", ".join(CREDENTIAL_VARIABLES) + " from the environment"


def _duckdb(address: Address) -> str:
    lines = ["INSTALL delta; LOAD delta;"]
    if address.remote:
        endpoint = address.endpoint or ""
        host = endpoint.split("://", 1)[-1]
        secret = ["TYPE s3", "PROVIDER credential_chain"]  # reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
        secret += [f"ENDPOINT '{host}'", "URL_STYLE 'path'"] if endpoint else []
        secret += ["USE_SSL false"] if endpoint.startswith("http://") else []
        secret += [f"REGION '{address.region}'"] if address.region else []
        lines = ["INSTALL delta; LOAD delta; INSTALL httpfs; LOAD httpfs; INSTALL aws; LOAD aws;",
                 f"CREATE SECRET mesh_port ({', '.join(secret)});"]
    lines.append(f"SELECT * FROM delta_scan('{_quoted_sql(address.location)}');")
    return "\n".join(lines)


def _spark(address: Address) -> str:
    location = address.location.replace("s3://", "s3a://", 1) if address.remote else address.location
    lines = ["# needs the delta-spark package (and hadoop-aws for s3a://)"]
    if address.remote:
        if address.endpoint:
            lines.append(f'spark.conf.set("spark.hadoop.fs.s3a.endpoint", "{address.endpoint}")')
            lines.append('spark.conf.set("spark.hadoop.fs.s3a.path.style.access", "true")')
        lines.append("# keys: the s3a default provider chain reads " + " and ".join(CREDENTIAL_VARIABLES))
    lines.append(f'df = spark.read.format("delta").load("{location}")')
    return "\n".join(lines)


def _quoted_sql(text: str) -> str:
    return text.replace("'", "''")


def snippets(address: Address) -> list[Snippet]:
    """One snippet per tool, each reading the whole port at `address`."""
    where, options = repr(address.location), _py_options(address)
    return [
        Snippet("DuckDB", "sql", _duckdb(address)),
        Snippet("Polars", "python", f"import polars as pl\n\ndf = pl.read_delta({where}{options})\n# lazily: pl.scan_delta({where}{options})"),
        Snippet("pandas", "python", f"from deltalake import DeltaTable\n\ndf = DeltaTable({where}{options}).to_pandas()"),
        Snippet("Spark", "python", _spark(address)),
    ]


@dataclass(frozen=True)
class ReadingGuide:
    """The addresses of a product's port for its readers, each with its snippets."""

    product: str
    ports: list[tuple[str, Address]]  # (who reads this address, where it lies)

    def sections(self) -> list[tuple[str, Address, list[Snippet]]]:
        return [(who, address, snippets(address)) for who, address in self.ports]


def reading_guide(product, store) -> ReadingGuide | None:
    """The guide for `product` (a loaded Product) in the deployment of `store`; None when its
    contract does not load (no major, no address)."""
    try:
        contract = product.contract
    except MeshError:  # a broken contract: the page shows the problem instead
        return None
    raw = Address.of(store.server_entry(store.uri(product.domain, product.name, contract.major)))
    if not contract.personal_columns:
        return ReadingGuide(product.id, [("every reader allowed to read it", raw)])
    allowed = ", ".join([product.domain, *product.descriptor.personal_data_readers])
    masked = Address.of(store.server_entry(store.uri(product.domain, product.name, contract.major, masked=True)))
    return ReadingGuide(product.id, [
        (f"readers of its personal data ({allowed}): the raw port", raw),
        (f"every other reader: the masked projection ({', '.join(contract.personal_columns)} masked)", masked),
    ])
