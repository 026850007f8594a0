"""Security policy (MLS501-MLS506): no secret values, never quoted back; no public endpoint by accident.

Every credential below is a fake with the shape of the real thing.
"""

from __future__ import annotations

import pytest

from mlspec.diagnostics import Diagnostic, Severity
from mlspec.redaction import credential_kind

from .spec_text import CONTRACT, Validate, contract_with

STORAGE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
CREDENTIALS = {
    "a private key": "-----BEGIN RSA PRIVATE KEY----- MIIEowIBAAKCAQEA7Vt2qQ",
    "a connection string with a key": (
        "DefaultEndpointsProtocol=https;AccountName=contosolake;AccountKey=dGhpcyBpcyBub3QgYSByZWFsIGtleQ==;"
        "EndpointSuffix=core.windows.net"
    ),
    "a connection string with a password": (
        "Server=tcp:sql.contoso.com,1433;Database=ml;User ID=ml;Password=Sup3rS3cret!;"
    ),
    "a SAS token": "https://contosolake.blob.core.windows.net/raw?sv=2022-11-02&sp=rl&sig=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA%3D%3D",
    "a JSON web token": (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    ),
    "an Azure storage account key": STORAGE_KEY,
    "an Entra ID client secret": "abc8Q~Kx7vYq2_Lm.N4pR-sT9uWz~0AbCdEfGhIj",
    "an AWS access key": "AKIAIOSFODNN7EXAMPLE",
    "a GitHub token": "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    "a URL with a password": "postgresql://ml_user:Hunter2Hunter2@db.contoso.com:5432/features",
}
DESCRIPTION = "  description: Predict customer churn"


def assert_never_quoted(diagnostics: list[Diagnostic], secret: str) -> None:
    """No message or hint repeats the secret, nor a recognisable piece of it."""
    pieces = {secret, secret[:24], secret[-24:]}
    for d in diagnostics:
        for text in (d.message, d.hint or ""):
            for piece in pieces:
                assert piece not in text, f"{d.code} quotes the secret: {text!r}"


@pytest.mark.parametrize(("kind", "secret"), CREDENTIALS.items(), ids=list(CREDENTIALS))
def test_credential_is_rejected_at_its_value_and_never_quoted(
    validate: Validate, kind: str, secret: str
) -> None:
    text = contract_with((DESCRIPTION, f"  description: '{secret}'"))
    checked = validate(text)
    found = checked.only("MLS501", f"this value looks like {kind}", f"'{secret}'")
    assert found.hint is not None and "Key Vault" in found.hint and "rotate" in found.hint
    assert_never_quoted(checked.diagnostics, secret)


@pytest.mark.parametrize(
    "value",
    [
        "Predict customer churn for the retention team",
        "abfss://raw@contosolake.dfs.core.windows.net/crm/customers/",
        "https://contoso.com/docs?page=2&sort=asc",
        "Password policy: rotate every 90 days",
        "sklearn.ensemble.GradientBoostingClassifier",
        "eyJ is how a JWT starts",
        "AKIA" + "x" * 16,
    ],
)
def test_ordinary_values_are_not_credentials(value: str) -> None:
    assert credential_kind(value) is None


def test_short_values_are_never_credentials() -> None:
    assert credential_kind("AccountKey=abc") is None  # under 16 characters
    assert credential_kind("AccountKey=abcdef") == "a connection string with a key"


def test_multi_line_pem_block_is_a_private_key() -> None:
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
    assert credential_kind(pem) == "a private key"


@pytest.mark.parametrize(
    ("field", "edit"),
    [
        ("replicas.min", ("replicas: {min: 2,", "replicas: {min: {secret},")),
        ("format", ("    format: csv                  #", "    format: {secret}                  #")),
        ("endpoint", ("  endpoint: churn-scoring", "  endpoint: {secret}")),
        ("inputs", ("inputs: [customers, web_logs]", "inputs: [customers, {secret}]")),
    ],
)
@pytest.mark.parametrize(
    "secret", [CREDENTIALS["an AWS access key"], STORAGE_KEY, CREDENTIALS["a GitHub token"]]
)
def test_other_checks_never_quote_a_credential(
    validate: Validate, field: str, edit: tuple[str, str], secret: str
) -> None:
    checked = validate(contract_with((edit[0], edit[1].replace("{secret}", f"'{secret}'"))))
    checked.one("MLS501", "this value looks like", f"'{secret}'")
    assert len(checked.diagnostics) >= 2, f"{field}: expected a second check to complain"
    assert_never_quoted(checked.diagnostics, secret)


@pytest.mark.parametrize("how", ["--var", "MLSPEC_VAR_"])
def test_credential_injected_through_a_variable_is_reported_where_it_lands(
    validate: Validate, how: str
) -> None:
    secret = CREDENTIALS["a connection string with a key"]
    if how == "--var":
        checked = validate(CONTRACT, variables={"lake_account": secret})
    else:
        checked = validate(CONTRACT, environ={"MLSPEC_VAR_LAKE_ACCOUNT": secret})
    found = checked.one(
        "MLS501",
        "a variable put a connection string with a key into this value",
        "${var.lake_account}              #",
    )
    assert found.hint is not None and "never through --var or MLSPEC_VAR_*" in found.hint
    checked.one("MLS501", "a variable put", "abfss://raw@${var.lake_account}.dfs.core.windows.net/crm/")
    assert_never_quoted(checked.diagnostics, secret)


def test_credential_as_variable_default_is_reported_at_the_default(validate: Validate) -> None:
    secret = CREDENTIALS["a GitHub token"]
    text = contract_with(
        ("  lake_account: {default:", f"  deploy_key: {{default: '{secret}'}}\n  lake_account: {{default:")
    )
    checked = validate(text)
    checked.only("MLS501", "this value looks like a GitHub token", f"'{secret}'")
    assert_never_quoted(checked.diagnostics, secret)


def test_credential_in_another_environment_is_reported_whichever_is_validated(validate: Validate) -> None:
    secret = CREDENTIALS["an AWS access key"]
    text = contract_with(
        (
            "{replicas: {min: 3, max: 20}}",
            f"{{replicas: {{min: 3, max: 20}}}}\n      project: {{description: '{secret}'}}",
        )
    )
    for env in ("dev", "prod", "local"):
        validate(text, env).only("MLS501", "this value looks like an AWS access key", f"'{secret}'")
    validate(text, all_environments=True).only(
        "MLS501", "this value looks like an AWS access key", f"'{secret}'"
    )


# --- MLS502 secret-named keys ---------------------------------------------------------------------

OPTIONS = "options: {header: true}"


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "pwd",
        "client_secret",
        "clientSecret",
        "api_key",
        "apiKey",
        "sas_token",
        "connection_string",
        "account-key",
        "private_key",
        "db_password",
        "token",
    ],
)
def test_secret_named_spark_option_with_a_literal_is_rejected(validate: Validate, key: str) -> None:
    text = contract_with((OPTIONS, f"options: {{header: true, {key}: hunter2}}"))
    checked = validate(text)
    found = checked.only(
        "MLS502", f"{key!r} holds a literal value; secrets are Key Vault references only", "hunter2"
    )
    assert found.hint is not None and "access.secrets" in found.hint
    assert_never_quoted(checked.diagnostics, "hunter2")


@pytest.mark.parametrize(
    "key", ["inferSchema", "max_tokens", "tokenizer", "password_policy", "secret_name", "secrets"]
)
def test_other_option_names_are_accepted(validate: Validate, key: str) -> None:
    validate(contract_with((OPTIONS, f"options: {{header: true, {key}: abc}}"))).assert_clean()


def test_secret_named_option_holding_only_a_reference_is_accepted(validate: Validate) -> None:
    text = contract_with(
        (
            "  lake_account: {default:",
            "  db_password: {description: from the pipeline}\n  lake_account: {default:",
        ),
        (OPTIONS, 'options: {header: true, password: "${var.db_password}"}'),
    )
    validate(text, variables={"db_password": "from-keyvault"}).assert_clean()
    validate(text).only("MLS204", "variable 'db_password' has no value", '"${var.db_password}"')


def test_secret_named_option_with_text_around_a_reference_is_rejected(validate: Validate) -> None:
    text = contract_with(
        (
            "  lake_account: {default:",
            "  db_password: {description: from the pipeline}\n  lake_account: {default:",
        ),
        (OPTIONS, 'options: {header: true, password: "pw-${var.db_password}"}'),
    )
    validate(text, variables={"db_password": "x"}).only(
        "MLS502", "'password' holds a literal value", '"pw-${var'
    )


def test_secret_named_variable_with_a_default_is_rejected(validate: Validate) -> None:
    text = contract_with(
        (
            "  lake_account: {default:",
            "  api_token: {default: abc123, description: x}\n  lake_account: {default:",
        )
    )
    checked = validate(text)
    found = checked.only(
        "MLS502", "variable 'api_token' looks like a secret and has a default value", "abc123"
    )
    assert found.path == ("variables", "api_token", "default")
    assert_never_quoted(checked.diagnostics, "abc123")


@pytest.mark.parametrize("declaration", ["{description: x}", '{default: "", description: x}'])
def test_secret_named_variable_without_a_default_is_accepted(validate: Validate, declaration: str) -> None:
    validate(
        contract_with(
            ("  lake_account: {default:", f"  api_token: {declaration}\n  lake_account: {{default:")
        )
    ).assert_clean()


# --- MLS503-MLS506 network exposure ---------------------------------------------------------------

ILB = "    internal_load_balancer: true\n"


def test_public_load_balancer_is_refused_without_allow_public(validate: Validate) -> None:
    checked = validate(contract_with((ILB, "    internal_load_balancer: false\n")))
    found = checked.one("MLS503", "the deployment would get a public load balancer", "false\n")
    assert found.hint is not None and "allow_public: true" in found.hint
    checked.one(
        "MLS506", "a public endpoint with key auth", "key  ", after="  auth: ", severity=Severity.WARNING
    )
    assert checked.codes == ["MLS503", "MLS506"]


def test_public_load_balancer_with_allow_public_is_a_warning(validate: Validate) -> None:
    text = contract_with(
        (ILB, "    internal_load_balancer: false\n    allow_public: true\n"),
        ("  auth: key ", "  auth: entra "),
    )
    checked = validate(text)
    found = checked.only(
        "MLS504",
        "the endpoint is public (allow_public: true)",
        "true\n",
        after="allow_public: ",
        severity=Severity.WARNING,
    )
    assert found.hint == "restrict network.allow_from to the callers' ranges"
    assert validate(text, strict=True).errors[0].code == "MLS504"


def test_allow_public_with_internal_load_balancer_has_no_effect(validate: Validate) -> None:
    validate(contract_with((ILB, ILB + "    allow_public: true\n"))).only(
        "MLS504",
        "allow_public has no effect with an internal load balancer",
        "true\n",
        after="allow_public: ",
        severity=Severity.WARNING,
    )


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", '"::/0"'])
def test_allow_from_everywhere_is_a_warning(validate: Validate, cidr: str) -> None:
    text = contract_with(("allow_from: [10.10.0.0/16]", f"allow_from: [10.10.0.0/16, {cidr}]"))
    found = validate(text).only("MLS505", "admits every address", f"{cidr}]", severity=Severity.WARNING)
    assert found.hint == "name the callers' subnets instead"


# --- warnings and strict --------------------------------------------------------------------------


def test_warnings_do_not_fail_validation_but_strict_makes_them_errors(validate: Validate) -> None:
    text = contract_with(("allow_from: [10.10.0.0/16]", "allow_from: [0.0.0.0/0]"))
    relaxed = validate(text)
    assert [(d.code, d.severity) for d in relaxed.diagnostics] == [("MLS505", Severity.WARNING)]
    assert relaxed.errors == []
    strict = validate(text, strict=True)
    assert [(d.code, d.severity) for d in strict.diagnostics] == [("MLS505", Severity.ERROR)]


def test_a_credential_pasted_as_a_mapping_key_is_reported_and_never_printed(validate: Validate) -> None:
    key = "A" * 86 + "=="
    text = contract_with(('tags: {cost-center: "4711"}', f'tags: {{cost-center: "4711", "{key}": x}}'))
    checked = validate(text)
    found = checked.one("MLS501", "this key looks like an Azure storage account key", f'"{key}"')
    assert found.path[:2] == ("project", "tags")
    assert_never_quoted(checked.diagnostics, key)
    assert all(key not in str(part) for d in checked.diagnostics for part in d.path)
