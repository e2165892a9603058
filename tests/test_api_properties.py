"""Property-based tests of the client's contract: any answer, any typed input.

Every test is derandomized (hypothesis derives its examples from the test itself),
so a failure reproduces on every run; the over-loopback fuzz runs use a fixed seed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
import contextlib
import gzip
import json
import math
import random
import re
import string
from typing import Any, cast
import zlib

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings, strategies as st
from multidict import CIMultiDict
import pytest
from yarl import URL

from custom_components.sunvec_connect.api import (
    BAN_SECONDS,
    CODE_DATA_UNAUTHORIZED,
    MAX_RETRY_AFTER,
    MAX_TEXT_LENGTH,
    MIN_RETRY_AFTER,
    REALTIME_PATH,
    RealtimeData,
    SunvecApiError,
    SunvecAuthenticationError,
    SunvecClient,
    SunvecError,
    SunvecInvalidInputError,
    SunvecInvalidParameterError,
    SunvecNotAuthorizedError,
    SunvecNotFoundError,
    SunvecRateLimitError,
    SunvecServerError,
    exposes_token,
    normalize_token,
    normalize_url,
    normalize_wifi_sn,
    parse_realtime_response,
)

TOKENS = ("sunvec-test-token-7f3a9c2e51", "2023089460")
"""A textual token and one of digits (a server can echo that one as a number)."""
URL_MESSAGES = {
    "empty": "The URL is empty",
    "line_break": "The URL must be on one line",
    "scheme": "The URL must start with http:// or https://",
    "credentials": "The URL must not contain credentials",
    "host": "The URL has no valid host",
    "path": "The URL must not have a path other than the API's own",
}
"""The reasons the config flow maps onto form errors, each with its static message."""
TOKEN_MESSAGE = "The token must be 1 to 256 printable characters without spaces"
WIFI_SN_MESSAGE = "The wifiSn must be 1 to 32 letters and digits"
NUMBER_FIELDS = (
    "acpower",
    "yieldtoday",
    "yieldtotal",
    "feedinpower",
    "feedinenergy",
    "consumeenergy",
    "feedinpowerM2",
    "soc",
    "peps1",
    "peps2",
    "peps3",
    "batPower",
    "powerdc1",
    "powerdc2",
    "powerdc3",
    "powerdc4",
)
TEXT_FIELDS = ("inverterSN", "sn", "inverterType", "inverterStatus", "uploadTime", "batStatus")
HINTS = (
    "no auth!",
    "this sn did not access!",
    "The server is busy. Please try again later!",
    "Request too frequent",
    "banned for 1 hour",
    "Due to repeated violations",
    "Data Unauthorized",
    "Query success!",
)
CODES_BY_TYPE: dict[int, type[SunvecApiError]] = {
    1001: SunvecAuthenticationError,
    103: SunvecAuthenticationError,
    1003: SunvecNotAuthorizedError,
    2002: SunvecNotFoundError,
    1002: SunvecInvalidParameterError,
    104: SunvecRateLimitError,
    3: SunvecRateLimitError,
    2001: SunvecServerError,
}

FAST = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=1000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
"""Every property: the same examples on every run; a few thousand where cheap."""


# Answers ---------------------------------------------------------------------

texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(HINTS),
    st.sampled_from(TOKENS).map(lambda token: f"x {token} y"),
    st.sampled_from(TOKENS),
    st.sampled_from(TOKENS).map(lambda token: f"echo: {token.upper()}"),
    st.text(alphabet="0123456789.eE+-_ ", max_size=30),
    st.sampled_from(["NaN", "inf", "-Infinity", "1e999", "1_000", " 12.5 ", "0x10", "\u0663"]),
)
huge_integers = st.tuples(st.sampled_from([1, -1]), st.integers(min_value=300, max_value=400)).map(
    lambda sign_digits: sign_digits[0] * 10 ** sign_digits[1] + 7
)
"""Integers too large for a float: float() of them raises OverflowError."""
numbers = st.one_of(
    st.integers(),
    huge_integers,
    st.floats(),
    st.sampled_from([10**309, -(10**309), 1e308, -1e308, 2023089460, float("nan")]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(texts, children, max_size=4)
    ),
    max_leaves=12,
)
results = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            **dict.fromkeys(NUMBER_FIELDS, st.one_of(numbers, texts, st.none())),
            **dict.fromkeys(TEXT_FIELDS, st.one_of(texts, numbers, st.none())),
            "uploadTime": st.one_of(st.just("2026-06-21 12:00:00"), st.sampled_from(TOKENS), texts),
            "extra": json_values,
        },
    ),
    json_values,
)
codes = st.one_of(
    st.sampled_from([0, 1, 3, 103, 104, 1001, 1002, 1003, 1004, 2001, 2002, None]),
    st.just(int(TOKENS[1])),
    st.sampled_from(TOKENS),
    numbers,
    texts,
)
envelopes = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "success": st.one_of(st.booleans(), st.none(), st.just("true"), st.just(1)),
            "exception": st.one_of(texts, json_values),
            "result": results,
            "code": codes,
        },
    ),
    json_values,
)
charsets = st.sampled_from(
    [
        "",
        "; charset=utf-8",
        "; charset=UTF-16",
        "; charset=latin-1",
        "; charset=rot13",
        "; charset=base64",
        "; charset=punycode",
        "; charset=idna",
        "; charset=hex",
        "; charset=utf-32",
        '; charset="x"',
        "; charset=\u00e9",
    ]
)


def _encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


bodies = st.one_of(
    st.builds(
        _encode,
        envelopes.map(lambda value: json.dumps(value, ensure_ascii=False)),
        st.sampled_from(["utf-8", "utf-16", "latin-1", "utf-32"]),
    ),
    st.binary(max_size=200),
    st.integers(min_value=1, max_value=200_000).map(lambda depth: b"[" * depth + b"]" * depth),
    envelopes.map(lambda value: json.dumps(value).encode()).flatmap(
        lambda body: st.integers(0, len(body)).map(lambda cut: body[:cut])
    ),
)
headers = st.builds(
    lambda charset, retry_after, date: CIMultiDict(
        {
            "Content-Type": f"application/json{charset}",
            **({"Retry-After": retry_after} if retry_after is not None else {}),
            **({"Date": date} if date is not None else {}),
        }
    ),
    charsets,
    st.one_of(
        st.none(),
        st.integers(min_value=-(2**100), max_value=2**100).map(str),
        st.sampled_from(["1e12", "120", "nan", "Wed, 21 Oct 2026 07:28:00 GMT"]),
        st.text(max_size=30),
    ),
    st.one_of(st.none(), st.just("Wed, 21 Oct 2026 07:26:00 GMT"), st.text(max_size=30)),
)
statuses = st.one_of(st.just(200), st.integers(min_value=100, max_value=599))


def check_outcome(outcome: RealtimeData | SunvecError, token: str) -> None:
    """What any answer must end in: typed, finite, bounded, without the token."""
    if isinstance(outcome, SunvecError):
        shown = [str(outcome), repr(outcome), repr(vars(outcome))]
        assert outcome.__cause__ is None
        if isinstance(outcome, SunvecRateLimitError) and outcome.retry_after is not None:
            assert MIN_RETRY_AFTER <= outcome.retry_after <= MAX_RETRY_AFTER
        if isinstance(outcome, SunvecApiError) and outcome.code is not None:
            assert token.casefold() not in str(outcome.code).casefold()
    else:
        assert isinstance(outcome, RealtimeData)
        for value in (
            outcome.ac_power,
            outcome.yield_today,
            outcome.yield_total,
            outcome.feedin_power,
            outcome.feedin_energy,
            outcome.consume_energy,
            outcome.feedin_power_meter2,
            outcome.soc,
            outcome.eps_power_a,
            outcome.eps_power_b,
            outcome.eps_power_c,
            outcome.battery_power,
            outcome.pv_power_1,
            outcome.pv_power_2,
            outcome.pv_power_3,
            outcome.pv_power_4,
            outcome.pv_power,
        ):
            assert value is None or (type(value) is float and math.isfinite(value))
        for text in (
            outcome.inverter_sn,
            outcome.inverter_type,
            outcome.inverter_status,
            outcome.upload_time_text,
            outcome.battery_status,
        ):
            assert text is None or (len(text) <= MAX_TEXT_LENGTH and text.isprintable())
        shown = [repr(outcome), json.dumps(dict(outcome.raw))]
    for text in shown:
        # Not even in another letter case (a server may echo it upper-cased).
        assert token.casefold() not in text.casefold()


def parse(status: int, answer_headers: CIMultiDict[str], body: bytes, token: str) -> Any:
    """The parser's outcome: its data or its exception, nothing else."""
    try:
        return parse_realtime_response(status, answer_headers, body, token=token)
    except SunvecError as err:
        return err


@settings(FAST, max_examples=1500)
@given(statuses, headers, bodies, st.sampled_from(TOKENS))
def test_any_answer_ends_typed(
    status: int, answer_headers: CIMultiDict[str], body: bytes, token: str
) -> None:
    check_outcome(parse(status, answer_headers, body, token), token)


token_values = st.one_of(
    st.sampled_from(TOKENS),
    st.sampled_from(TOKENS).map(lambda token: f" {token}\n"),
    st.sampled_from(TOKENS).map(lambda token: f"type {token}"),
    st.sampled_from(TOKENS).map(str.swapcase),
    st.just(int(TOKENS[1])),
    st.just(float(TOKENS[1])),
)
token_laden_results = st.dictionaries(
    st.one_of(st.sampled_from(NUMBER_FIELDS + TEXT_FIELDS), st.sampled_from(TOKENS), texts),
    st.recursive(
        st.one_of(token_values, scalars),
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(st.one_of(st.sampled_from(TOKENS), texts), children, max_size=3),
        ),
        max_leaves=8,
    ),
    max_size=12,
)


@settings(FAST, max_examples=500)
@given(token_laden_results, st.sampled_from(TOKENS))
def test_parsed_data_never_shows_the_token(result: dict[str, Any], token: str) -> None:
    """Whatever the server echoes, as text, number or key: not in the data, nor its raw copy."""
    check_outcome(RealtimeData.from_dict(result, token=token), token)
    body = json.dumps({"success": True, "code": 0, "result": result}).encode()
    check_outcome(parse(200, CIMultiDict(), body, token), token)


@settings(FAST, max_examples=500)
@given(
    st.sampled_from(sorted(CODES_BY_TYPE)),
    st.one_of(st.sampled_from(HINTS), texts),
    st.one_of(st.none(), results, texts),
    st.sampled_from([False, None, "false"]),
    st.sampled_from([int, float, str]),
)
def test_a_known_code_decides_whatever_the_text(
    code: int, exception: str, result: Any, success: Any, as_type: Callable[[int], Any]
) -> None:
    envelope = {"success": success, "exception": exception, "result": result}
    envelope["code"] = as_type(code)
    body = json.dumps(envelope).encode()
    outcome = parse(200, CIMultiDict(), body, TOKENS[0])
    assert type(outcome) is CODES_BY_TYPE[code]
    assert outcome.code == code


@settings(FAST, max_examples=1000)
@given(texts, st.sampled_from([{}, {"code": None}, {"code": 0}, {"code": "n/a"}]))
def test_the_text_decides_only_without_a_code(text: str, code: dict[str, Any]) -> None:
    body = json.dumps({"success": False, "exception": text, **code}).encode()
    outcome = parse(200, CIMultiDict(), body, TOKENS[0])
    lowered = text.lower()
    if "no auth!" in lowered:
        assert type(outcome) is SunvecAuthenticationError
    elif "this sn did not access!" in lowered:
        assert type(outcome) is SunvecNotFoundError
    elif re.search(r"\bban(?:ned)?\b|violat", text, re.IGNORECASE):
        assert type(outcome) is SunvecRateLimitError
        assert outcome.retry_after == BAN_SECONDS
    elif re.search(r"frequen|too many|limit|exceed", text, re.IGNORECASE):
        assert type(outcome) is SunvecRateLimitError
    elif re.search(r"busy|try again later|temporarily unavailable", text, re.IGNORECASE):
        assert type(outcome) is SunvecServerError
    else:
        assert type(outcome) is SunvecApiError


@settings(FAST, max_examples=300)
@given(st.text(max_size=40))
def test_real_1003_body_with_any_text(text: str) -> None:
    body = json.dumps({"success": False, "exception": text, "result": None, "code": 1003})
    outcome = parse(200, CIMultiDict(), body.encode(), TOKENS[0])
    assert type(outcome) is SunvecNotAuthorizedError
    assert outcome.code == CODE_DATA_UNAUTHORIZED


# Typed input -----------------------------------------------------------------


def attempt(normalize: Callable[[str], str], typed: str) -> str | SunvecInvalidInputError:
    """What a normaliser returns, or the input error it raises (nothing else)."""
    try:
        return normalize(typed)
    except SunvecInvalidInputError as err:
        return err


ENDPOINT = f"/{REALTIME_PATH}"
LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
TOP_LABEL = st.from_regex(r"[a-z]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
"""A numeric last label would make the host an IPv4 address."""
valid_hosts = st.one_of(
    st.tuples(st.lists(LABEL, max_size=3), TOP_LABEL).map(
        lambda labels: ".".join([*labels[0], labels[1]])
    ),
    st.sampled_from(
        [
            "localhost",
            "127.0.0.1",
            "[::1]",
            "[2001:db8::1]",
            "xn--bcher-kva.example",
            "api.sunvec.example",
        ]
    ),
)
prefix_paths = st.sampled_from(
    [""]
    + [
        "/".join(ENDPOINT.split("/")[:count]) + slash
        for count in range(2, ENDPOINT.count("/") + 2)
        for slash in ("", "/")
    ]
    + ["/"]
)
url_pieces = st.tuples(
    st.sampled_from(
        [
            "",
            "http://",
            "https://",
            "HTTPS://",
            "https:/",
            "https:",
            "ftp://",
            "//",
            "://",
            "ws://",
            "Https://",
        ]
    ),
    st.sampled_from(["", "", "", "user@", "user:pw@", "@"]),
    st.one_of(
        valid_hosts,
        st.sampled_from(
            [
                "",
                "a..b",
                ".a",
                "a.",
                "xn--zz.example",
                "xn--.example",
                "bücher.example",
                "\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com",
                "e\u200bvil.com",
                "ex\uff0fample.com",
                "a_b.example",
                "-a.example",
                "1.2.3",
                "999.1.1.1",
                "[::1",
                "[fe80::1%eth0]",
                "straße.de",
                "a" * 64 + ".com",
            ]
        ),
        st.text(max_size=20),
    ),
    st.sampled_from(["", "", ":", ":80", ":443", ":8099", ":0", ":65536", ":x", ":1:2"]),
    st.one_of(
        prefix_paths,
        prefix_paths.map(str.upper),
        st.sampled_from(["/proxy", "/api/api/v2", "//", "/api//", "/%61pi", "/api/v3"]),
        st.text(alphabet="/apiv2?#.%\\ ", max_size=12),
    ),
    st.sampled_from(["", "", "?x=1", "#f", "\nhttps://evil.example", "\r\nX: 1", "\u2028b"]),
    st.sampled_from(["", " ", "\t", "\n", " \r\n"]),
)


def _join(pieces: tuple[str, ...]) -> str:
    scheme, credentials, host, port, path, tail, space = pieces
    return f"{space}{scheme}{credentials}{host}{port}{path}{tail}{space}"


typed_urls = st.one_of(url_pieces.map(_join), st.text(max_size=40))
CANONICAL = re.compile(r"(http|https)://([a-z0-9.\-]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?")


@settings(FAST, max_examples=1500)
@given(typed_urls)
def test_any_typed_address_ends_canonical_or_refused(typed: str) -> None:
    base = attempt(normalize_url, typed)
    if isinstance(base, SunvecInvalidInputError):
        # Static messages: nothing typed is formatted into them.
        assert URL_MESSAGES[base.reason] == str(base)
        return
    match = CANONICAL.fullmatch(base)
    assert match is not None, base
    assert normalize_url(base) == base
    url = URL(base)
    assert url.host is not None  # decoding the IDNA host does not raise
    assert url.path == "/"
    base.split("://")[1].strip("[]").encode("idna")  # what the resolver does
    client = SunvecClient(cast("ClientSession", None), typed, TOKENS[0])
    assert client.base_url == base
    assert isinstance(exposes_token(typed), bool)


@settings(FAST, max_examples=500)
@given(
    st.sampled_from(["", "http://", "https://", "HTTP://"]),
    valid_hosts,
    st.sampled_from(["", ":8443", ":443", ":80"]),
    st.one_of(prefix_paths, prefix_paths.map(str.upper), prefix_paths.map(str.swapcase)),
    st.sampled_from(["", " ", "\n"]),
)
def test_accepted_addresses_map_to_their_base(
    scheme: str, host: str, port: str, path: str, space: str
) -> None:
    canonical_scheme = scheme.removesuffix("://").lower() or "https"
    default = {"http": ":80", "https": ":443"}[canonical_scheme]
    expected = f"{canonical_scheme}://{host}{'' if port in ('', default) else port}"
    assert normalize_url(f"{space}{scheme}{host}{port}{path}{space}") == expected


@settings(FAST, max_examples=1000)
@given(
    st.one_of(
        st.text(max_size=40),
        st.text(alphabet=string.ascii_letters + string.digits + " ß\u0663\uff33", max_size=40),
    )
)
def test_wifi_sn(typed: str) -> None:
    stripped = typed.strip()
    wifi_sn = attempt(normalize_wifi_sn, typed)
    if isinstance(wifi_sn, SunvecInvalidInputError):
        assert wifi_sn.reason == "wifi_sn"
        assert str(wifi_sn) == WIFI_SN_MESSAGE
        assert not re.fullmatch(r"[A-Za-z0-9]{1,32}", stripped)
        return
    assert re.fullmatch(r"[A-Z0-9]{1,32}", wifi_sn)
    assert wifi_sn == stripped.upper()
    assert normalize_wifi_sn(wifi_sn) == wifi_sn


@settings(FAST, max_examples=1000)
@given(
    st.one_of(
        st.text(max_size=300),
        st.text(alphabet=string.printable, max_size=300),
        st.sampled_from(["https://api.example.com", " http://10.0.0.2:8080 "]),
    )
)
def test_token(typed: str) -> None:
    token = attempt(normalize_token, typed)
    if isinstance(token, SunvecInvalidInputError):
        if token.reason == "token_is_address":
            assert "://" in typed
            return
        assert token.reason == "token"
        assert str(token) == TOKEN_MESSAGE
        return
    assert "://" not in token
    assert re.fullmatch(r"[\x21-\x7e]{1,256}", token)
    assert token == typed.strip()
    assert normalize_token(token) == token


# The whole request path over loopback -------------------------------------------

FUZZ_SEED = 20261125


async def fetch(client: SunvecClient) -> RealtimeData | SunvecError:
    """One call's outcome: its data or its exception (any other one fails the test)."""
    try:
        return await client.async_get_realtime_data("SUT1")
    except SunvecError as err:
        return err


def random_answer(rng: random.Random, token: str) -> tuple[int, dict[str, str], bytes, bool]:
    """A random answer: status, headers, body bytes and whether to send it chunked.

    Each part is valid more often than not, so that data comes through too.
    """
    valid = 0.7
    token_value: Any = int(token) if token.isdigit() else token
    result: dict[str, Any] = {
        field: rng.choice([None, 1.5, 10 ** rng.randint(0, 400), "12", token, f"x{token}", []])
        for field in rng.sample(NUMBER_FIELDS + TEXT_FIELDS, rng.randint(0, 8))
    }
    envelope: dict[str, Any] = {"success": True, "exception": "Query success!", "result": result}
    if rng.random() > valid:
        envelope.update(
            success=rng.choice([True, False, None]),
            exception=rng.choice([*HINTS, token, ""]),
            result=rng.choice([result, None, "text", [result]]),
            code=rng.choice([0, 1, 3, 103, 104, 1003, 2002, token_value, "1003"]),
        )
    text = json.dumps(envelope)
    charset, body = "", text.encode()
    if rng.random() > valid:
        charset, body = rng.choice(
            [
                ("; charset=utf-16", text.encode("utf-16")),
                ("; charset=rot13", text.encode()),
                ("; charset=punycode", text.encode()),
                ("", text.encode("utf-16")),
                ("", text.encode()[: rng.randint(0, len(text))]),
                ("", rng.randbytes(rng.randint(0, 300))),
                ("", b"[" * 50_000),
                ("", text.encode() + b" " * (1 << 20)),
            ]
        )
    answer_headers = {"Content-Type": f"application/json{charset}"}
    if rng.random() < 0.3:
        answer_headers["Retry-After"] = rng.choice(["1e12", "99999999999999", "-1", "x", "30"])
    encoding = rng.choice(["", "", "gzip", "deflate"])
    if rng.random() > valid:
        encoding = rng.choice(["gzip", "deflate", "zstd", "br", "bogus"])
        body = rng.randbytes(40)
    elif encoding == "gzip":
        body = gzip.compress(body)
    elif encoding == "deflate":
        body = zlib.compress(body)
    if encoding:
        answer_headers["Content-Encoding"] = encoding
    status = 200
    if rng.random() > valid:
        status = rng.choice([401, 403, 404, 429, 500, 503, 302, 204])
    return status, answer_headers, body, rng.random() < 0.3


@pytest.fixture
async def fuzz_server(socket_enabled: None) -> AsyncGenerator[tuple[str, list[Any]]]:
    """A loopback server answering with the next queued random answer."""
    queue: list[tuple[int, dict[str, str], bytes, bool]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        status, answer_headers, body, chunked = queue.pop(0)
        if not chunked:
            return web.Response(status=status, body=body, headers=answer_headers)
        response = web.StreamResponse(status=status, headers=answer_headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(body), 4096):
            await response.write(body[start : start + 4096])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post(f"/{REALTIME_PATH}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/")), queue
    finally:
        await server.close()


@pytest.mark.parametrize("token", TOKENS)
async def test_fuzz_the_request_path_over_loopback(
    session: ClientSession, fuzz_server: tuple[str, list[Any]], token: str
) -> None:
    url, queue = fuzz_server
    rng = random.Random(f"{FUZZ_SEED}-{token}")
    client = SunvecClient(session, url, token)
    outcomes: dict[str, int] = {}
    for _ in range(150):
        queue.append(random_answer(rng, token))
        outcome = await fetch(client)
        check_outcome(outcome, token)
        outcomes[type(outcome).__name__] = outcomes.get(type(outcome).__name__, 0) + 1
    # The run covers data and the main classes of failure.
    assert outcomes.keys() >= {
        "RealtimeData",
        "SunvecMalformedResponseError",
        "SunvecAuthenticationError",
        "SunvecServerError",
        "SunvecRateLimitError",
    }, outcomes


@pytest.fixture
async def raw_server(socket_enabled: None) -> AsyncGenerator[tuple[str, list[bytes]]]:
    """A loopback TCP server that answers any request with the next queued bytes."""
    queue: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(queue.pop(0))
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", queue
    finally:
        server.close()
        await server.wait_closed()


async def test_fuzz_raw_http_over_loopback(
    session: ClientSession, raw_server: tuple[str, list[bytes]]
) -> None:
    """Garbage and broken HTTP: aiohttp's errors (whose repr shows the token) stay inside."""
    url, queue = raw_server
    rng = random.Random(FUZZ_SEED)
    token = TOKENS[1]
    client = SunvecClient(session, url, token)
    good = json.dumps({"success": True, "code": 0, "result": {"acpower": 1}}).encode()
    seen: set[str] = set()
    for _ in range(60):
        head = rng.choice(
            [
                b"HTTP/1.1 200 OK\r\n",
                b"HTTP/1.1 999 What\r\n",
                b"HTTP/9.9 200 OK\r\n",
                b"garbage\r\n",
                rng.randbytes(20) + b"\r\n",
            ]
        )
        header_lines = rng.choice(
            [
                b"Content-Length: %d\r\n" % len(good),
                b"Content-Length: 999999\r\n",
                b"Content-Length: -1\r\n",
                b"Transfer-Encoding: chunked\r\n",
                b"Content-Encoding: gzip\r\nContent-Length: %d\r\n" % len(good),
                b"X: " + rng.randbytes(10).replace(b"\n", b"") + b"\r\n",
            ]
        )
        queue.append(head + header_lines + b"Connection: close\r\n\r\n" + good)
        outcome = await fetch(client)
        if isinstance(outcome, SunvecError):
            assert outcome.__context__ is None
        check_outcome(outcome, token)
        seen.add(type(outcome).__name__)
    assert {"RealtimeData", "SunvecConnectionError"} <= seen, seen
