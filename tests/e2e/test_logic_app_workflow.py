"""The sample Logic App (``logicapps/export-workflow.json``) run against the app on devhost.

No Logic Apps engine runs here, so this module carries the little of one the definition needs,
each rule taken from Microsoft's docs (MicrosoftDocs/azure-docs, ``articles/``):

* the HTTP action follows the asynchronous pattern unless ``operationOptions`` is
  ``DisableAsyncPattern``: on a ``202`` with a ``location`` header it waits the ``retry-after``
  seconds (20 when there is none) and GETs that URL, until an answer is not 202; that answer is
  the action's output (``logic-apps/logic-apps-create-api-app.md`` "Perform long-running tasks
  with the asynchronous pattern"; ``connectors/connectors-native-http.md`` "Asynchronous
  request-response behavior"; ``logic-apps/logic-apps-workflow-actions-triggers.md`` "Run
  actions in a synchronous operation pattern");
* ``limit.timeout`` (ISO 8601) bounds that pattern: an action not finished by then ends without
  an output (same page, "Change asynchronous duration"); the run itself is bounded at 90 days in
  multi-tenant (Consumption) Logic Apps (``logic-apps/logic-apps-limits-and-config.md``);
* an action runs when each ``runAfter`` predecessor ended in one of the listed statuses
  (``Succeeded``, ``Failed``, ``Skipped``, ``TimedOut``), else it is ``Skipped``; the branch an
  ``If`` does not take is ``Skipped`` (``logic-apps/error-exception-handling.md`` "Manage the
  'run after' behavior"; ``logic-apps-workflow-actions-triggers.md`` "If action");
* expressions: a string that starts with ``@`` is one expression, ``@{...}`` interpolates into a
  string, ``@@`` escapes; ``'...'`` string literals; ``?[...]`` reads a property that may be
  missing or null without an error (``logic-apps/logic-apps-workflow-definition-language.md``
  "Expressions", "Operators"); comparisons turn null into ``''``
  (``logic-apps/workflow-definition-language-functions-reference.md`` "Logical comparison
  functions"). Only the functions the definition calls are implemented, and a test fails if it
  calls another.

Waiting ``Retry-After`` seconds means waiting on the virtual clock the app and the emulator share
(``tests/e2e/conftest.py``), never real seconds: either the host moves the clock (to its next
durable timer, whenever it is idle) and the poll goes out once the clock has passed the wait, or
a test holds the clock and each wait moves it by exactly the seconds asked. The one thing the
workflow reaches outside this machine, Key Vault, is answered by the test with the key it gave
devhost; the notification webhook is recorded, not sent.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from armemulator import ServerSpec, VirtualClock
from devhost import DevHost
from mysqlexport.request import MAX_DEADLINE_MINUTES
from tests.e2e.conftest import SAS, SIG, SUB, Stack, StackFactory, discover_body, server_id
from tests.waits import HANG_SECONDS

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_FILE = ROOT / "logicapps" / "export-workflow.json"
SCHEMA = (
    "https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/"
    "workflowdefinition.json#"
)

KEY = "logic-app-function-key"
VAULT = "kv-fleet-export"
WEBHOOK = "https://hooks.example.invalid/fleet-export"
RUN_NAME = "08584000000000000000000000000CU00"

#: Run-after statuses (error-exception-handling.md "Manage the 'run after' behavior").
RUN_AFTER_STATUSES = frozenset({"Succeeded", "Failed", "Skipped", "TimedOut"})
#: The action types this definition may use, and that the runner below executes.
ACTION_TYPES = frozenset({"Http", "If", "Query", "Select", "Compose"})
#: Seconds the engine waits between polls when a 202 has no retry-after
#: (logic-apps-create-api-app.md: "By default, the engine checks every 20 seconds").
DEFAULT_RETRY_AFTER = 20.0
#: Longest run of a multi-tenant (Consumption) logic app (logic-apps-limits-and-config.md).
RUN_DURATION_LIMIT = 90 * 86400.0
#: Definition limits (logic-apps-limits-and-config.md "Definition limits").
MAX_NAME = 80
MAX_EXPRESSION = 8192


def load_workflow() -> dict[str, Any]:
    return json.loads(WORKFLOW_FILE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


# -- expressions ----------------------------------------------------------------------------------


class ExpressionError(Exception):
    """An expression that Logic Apps would fail the action on."""


_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<string>'(?:[^']|'')*')"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>\?\[|\?\.|[()\[\],.]))"
)


@dataclass(frozen=True)
class Node:
    """One node of a parsed expression: ``lit`` (value), ``call`` (name, args),
    ``index`` (base, key, safe) or ``member`` (base, name, safe)."""

    kind: str
    value: Any = None
    args: tuple[Node, ...] = ()
    safe: bool = False


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if not text[position:].strip():
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ExpressionError(f"cannot read {text[position:]!r} in {text!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0

    def parse(self) -> Node:
        node = self._expression()
        if self.at != len(self.tokens):
            raise ExpressionError(f"unexpected {self.tokens[self.at][1]!r} in {self.text!r}")
        return node

    def _next(self) -> tuple[str, str]:
        if self.at >= len(self.tokens):
            raise ExpressionError(f"{self.text!r} ends too early")
        token = self.tokens[self.at]
        self.at += 1
        return token

    def _peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None

    def _expect(self, op: str) -> None:
        _, value = self._next()
        if value != op:
            raise ExpressionError(f"expected {op!r}, found {value!r} in {self.text!r}")

    def _expression(self) -> Node:
        node = self._primary()
        while self._peek() in ("[", "?[", ".", "?."):
            _, op = self._next()
            if op in ("[", "?["):
                key = self._expression()
                self._expect("]")
                node = Node("index", node, (key,), safe=op == "?[")
            else:
                kind, name = self._next()
                if kind != "name":
                    raise ExpressionError(f"expected a property name after {op!r}")
                node = Node("member", node, (Node("lit", name),), safe=op == "?.")
        return node

    def _primary(self) -> Node:
        kind, value = self._next()
        if kind == "number":
            return Node("lit", float(value) if "." in value else int(value))
        if kind == "string":
            return Node("lit", value[1:-1].replace("''", "'"))
        if kind == "name" and self._peek() == "(":
            self._next()
            args: list[Node] = []
            if self._peek() != ")":
                args.append(self._expression())
                while self._peek() == ",":
                    self._next()
                    args.append(self._expression())
            self._expect(")")
            return Node("call", value, tuple(args))
        if kind == "name" and value in ("true", "false", "null"):
            return Node("lit", {"true": True, "false": False, "null": None}[value])
        raise ExpressionError(f"unexpected {value!r} in {self.text!r}")


def parse(text: str) -> Node:
    return _Parser(text).parse()


_NO_ITEM = object()


@dataclass
class Scope:
    """What expressions can see: parameters, finished actions' outputs, the current item."""

    parameters: Mapping[str, Any]
    outputs: Mapping[str, Mapping[str, Any]]
    item: Any = _NO_ITEM

    def with_item(self, item: Any) -> Scope:
        return Scope(self.parameters, self.outputs, item)


def _comparable(value: Any) -> Any:
    # "null values are converted to empty string ("") values" in comparisons
    return "" if value is None else value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _boolean(value: Any, function: str) -> bool:
    if not isinstance(value, bool):
        raise ExpressionError(f"{function}() takes booleans, not {value!r}")
    return value


def _greater(left: Any, right: Any) -> bool:
    left, right = _comparable(left), _comparable(right)
    if (_is_number(left) and _is_number(right)) or (
        isinstance(left, str) and isinstance(right, str)
    ):
        return bool(left > right)
    raise ExpressionError(f"greater() cannot compare {left!r} with {right!r}")


def _take(collection: Any, count: Any) -> Any:
    if not isinstance(collection, list | str) or not _is_number(count):
        raise ExpressionError(f"take() needs a collection and a count, not {collection!r}")
    return collection[: int(count)]


def _call(name: str, args: list[Any], scope: Scope) -> Any:
    if name == "parameters":
        if args[0] not in scope.parameters:
            raise ExpressionError(f"parameter {args[0]!r} is not declared")
        return scope.parameters[args[0]]
    if name == "body":
        if args[0] not in scope.outputs:
            raise ExpressionError(f"action {args[0]!r} has no outputs (did not run, or failed)")
        return scope.outputs[args[0]].get("body")
    if name == "item":
        if scope.item is _NO_ITEM:
            raise ExpressionError("item() outside a Query or Select")
        return scope.item
    if name == "workflow":
        return {"run": {"name": RUN_NAME}}
    if name == "coalesce":
        return next((a for a in args if a is not None), None)
    if name == "equals":
        return _comparable(args[0]) == _comparable(args[1])
    if name == "not":
        return not _boolean(args[0], "not")
    if name == "or":
        return any(_boolean(a, "or") for a in args)
    if name == "and":
        return all(_boolean(a, "and") for a in args)
    if name == "greater":
        return _greater(args[0], args[1])
    if name == "take":
        return _take(args[0], args[1])
    raise ExpressionError(f"function {name}() is not modelled here")


#: The functions ``_call`` implements; the definition may call no other.
FUNCTIONS = frozenset(
    {"parameters", "body", "item", "workflow", "coalesce", "equals", "not", "or", "and"}
    | {"greater", "take"}
)


def _select(base: Any, key: Any, safe: bool) -> Any:
    if base is None and safe:
        return None
    if isinstance(base, dict):
        if key in base:
            return base[key]
        if safe:
            return None
        raise ExpressionError(f"property {key!r} does not exist")
    if isinstance(base, list) and _is_number(key):
        if 0 <= int(key) < len(base):
            return base[int(key)]
        raise ExpressionError(f"index {key!r} is out of range")
    raise ExpressionError(f"cannot select {key!r} from {base!r}")


def evaluate_node(node: Node, scope: Scope) -> Any:
    if node.kind == "lit":
        return node.value
    if node.kind == "call":
        return _call(node.value, [evaluate_node(a, scope) for a in node.args], scope)
    base = evaluate_node(node.value, scope)
    return _select(base, evaluate_node(node.args[0], scope), node.safe)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _interpolations(text: str) -> Iterator[tuple[str, str | None]]:
    """Split a string into (literal, None) and (literal-before, expression) pieces."""
    position = 0
    while True:
        start = text.find("@{", position)
        if start < 0:
            yield text[position:], None
            return
        if start > 0 and text[start - 1] == "@":  # "@@{" is a literal "@{"
            yield text[position : start - 1] + "@{", None
            position = start + 2
            continue
        end, quoted = start + 2, False
        while end < len(text) and (quoted or text[end] != "}"):
            quoted ^= text[end] == "'"
            end += 1
        if end >= len(text):
            raise ExpressionError(f"unclosed @{{ in {text!r}")
        yield text[position:start], text[start + 2 : end]
        position = end + 1


def expressions_in(text: str) -> list[str]:
    """The expressions a JSON string value holds."""
    if text.startswith("@@"):
        return []
    if text.startswith("@") and not text.startswith("@{"):
        return [text[1:]]
    return [expression for _, expression in _interpolations(text) if expression is not None]


def evaluate(value: Any, scope: Scope) -> Any:
    """A JSON value of the definition with every expression in it evaluated."""
    if isinstance(value, dict):
        return {k: evaluate(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate(v, scope) for v in value]
    if not isinstance(value, str):
        return value
    if value.startswith("@@"):
        return value[1:]
    if value.startswith("@") and not value.startswith("@{"):
        return evaluate_node(parse(value[1:]), scope)
    if "@{" not in value:
        return value
    pieces = []
    for literal, expression in _interpolations(value):
        pieces.append(literal)
        if expression is not None:
            pieces.append(_text(evaluate_node(parse(expression), scope)))
    return "".join(pieces)


# -- the definition's structure -------------------------------------------------------------------


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value


def calls(node: Node) -> Iterator[Node]:
    if node.kind == "call":
        yield node
    if isinstance(node.value, Node):
        yield from calls(node.value)
    for arg in node.args:
        yield from calls(arg)


def own_parts(action: Mapping[str, Any]) -> dict[str, Any]:
    """An action without the actions it contains."""
    return {k: v for k, v in action.items() if k not in ("actions", "else")}


def scopes_of(action: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    inner = [action.get("actions", {})] if "actions" in action else []
    if "else" in action:
        inner.append(action["else"].get("actions", {}))
    return inner


def topological(actions: Mapping[str, Any]) -> list[str]:
    """The actions of one scope in an order that respects runAfter; fails on a cycle."""
    done: list[str] = []
    pending = dict(actions)
    while pending:
        ready = [n for n, a in pending.items() if set(a.get("runAfter", {})) <= set(done)]
        if not ready:
            raise AssertionError(f"runAfter cycle among {sorted(pending)}")
        for name in ready:
            done.append(name)
            del pending[name]
    return done


@dataclass
class Placed:
    """An action and the actions that have ended before it starts."""

    name: str
    action: Mapping[str, Any]
    before: frozenset[str]


def placed_actions(
    actions: Mapping[str, Any], before: frozenset[str] = frozenset()
) -> list[Placed]:
    placed: list[Placed] = []
    ancestors: dict[str, frozenset[str]] = {}
    for name, action in actions.items():
        # "actions inside a control workflow action can only run after other actions that are
        # in the same control workflow structure" (logic-apps-workflow-actions-triggers.md)
        for predecessor in action.get("runAfter", {}):
            assert predecessor in actions, f"{name} runs after {predecessor}, not in its scope"
    for name in topological(actions):
        action = actions[name]
        mine = before.union(*(ancestors[p] | {p} for p in action.get("runAfter", {})))
        ancestors[name] = mine
        placed.append(Placed(name, action, mine))
        for inner in scopes_of(action):
            placed.extend(placed_actions(inner, mine))
    return placed


# -- running it -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Poll:
    """One GET of a Location: what the 202 before it asked, and what the action did."""

    url: str
    retry_after: float
    waited: float  # emulated seconds between that 202 and this GET
    status: int
    location_after: str | None
    retry_after_after: str | None


@dataclass
class ActionResult:
    status: str
    inputs: Any = None
    outputs: dict[str, Any] | None = None
    error: str | None = None
    first: requests.Response | None = None
    polls: list[Poll] = field(default_factory=list)


def _retry_after(response: requests.Response) -> float:
    value = response.headers.get("Retry-After")
    return DEFAULT_RETRY_AFTER if value is None else float(int(value))


def iso_duration_seconds(text: str) -> float:
    match = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", text)
    assert match and text not in ("P", "PT") and not text.endswith("T"), text
    days, hours, minutes, seconds = (float(g or 0) for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


class AsyncHttp:
    """The HTTP action's asynchronous pattern against devhost, on the shared virtual clock.

    ``held_polls``: for that many polls (``None``: all of them) the test holds the clock, and
    each wait moves it by exactly the seconds asked; after them the host moves it, and a wait
    ends once the clock has passed its end (or, with nothing left to run, the test moves it
    there: an idle host has no timer to move it to)."""

    def __init__(self, host: DevHost, clock: VirtualClock, held_polls: int | None = 0) -> None:
        self.host, self.clock, self.held_polls = host, clock, held_polls
        self.session = requests.Session()
        self._hold = ExitStack()
        self._holding = False

    def _idle(self) -> bool:
        try:
            self.host.run_until_idle(0.0)
        except TimeoutError:
            return False
        return True

    def _wait_until(self, target: float) -> None:
        if self._holding:
            self.host.advance_clock(max(0.0, target - self.clock.now()))
            return
        deadline = time.monotonic() + HANG_SECONDS
        while self.clock.now() < target:
            if self._idle():
                self.host.advance_clock(max(0.0, target - self.clock.now()))
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the clock did not reach {target} in {HANG_SECONDS} s")
            time.sleep(0.005)

    def _release_after(self, polls: int) -> None:
        if self._holding and self.held_polls is not None and polls >= self.held_polls:
            self._hold.close()
            self._holding = False

    def send(self, inputs: Mapping[str, Any], timeout: float, asynchronous: bool) -> ActionResult:
        if self.held_polls != 0:
            self._hold.enter_context(self.host.hold_clock())
            self._holding = True
        try:
            return self._send(inputs, timeout, asynchronous)
        finally:
            self._hold.close()
            self._holding = False

    def _send(self, inputs: Mapping[str, Any], timeout: float, asynchronous: bool) -> ActionResult:
        url = inputs["uri"]
        if inputs.get("queries"):
            url += "?" + urlencode(inputs["queries"])
        body = inputs.get("body")
        response = self.session.request(
            inputs["method"],
            url,
            headers=inputs.get("headers", {}),
            data=None if body is None else json.dumps(body),
            timeout=HANG_SECONDS,
        )
        result = ActionResult("Running", inputs=inputs, first=response)
        started = answered = self.clock.now()
        most_polls = int(timeout) + 2  # only a Retry-After of 0, again and again, gets there
        while asynchronous and response.status_code == 202:
            location = response.headers.get("Location")
            assert location, "a 202 without a location header: the pattern has nowhere to poll"
            wait = _retry_after(response)
            if answered + wait - started > timeout:
                result.status, result.error = "TimedOut", "ActionTimedOut"
                return result
            self._wait_until(answered + wait)
            polled_at = self.clock.now()
            response = self.session.get(location, timeout=HANG_SECONDS)
            result.polls.append(
                Poll(
                    location,
                    wait,
                    polled_at - answered,
                    response.status_code,
                    response.headers.get("Location"),
                    response.headers.get("Retry-After"),
                )
            )
            answered = self.clock.now()
            self._release_after(len(result.polls))
            assert len(result.polls) <= most_polls, "more polls than the timeout allows"
        content_type = response.headers.get("Content-Type", "")
        parsed = response.json() if "json" in content_type and response.content else response.text
        result.outputs = {
            "statusCode": response.status_code,
            "headers": dict(response.headers),
            "body": parsed,
        }
        result.status = "Succeeded" if 200 <= response.status_code < 300 else "Failed"
        return result


class Endpoints:
    """Where the workflow's HTTP actions go: the app on devhost for real; Key Vault answered
    with the key the test gave devhost; the webhook recorded. Anything else is refused, so
    nothing can leave the machine."""

    def __init__(self, stack: Stack, key: str = KEY, held_polls: int | None = 0) -> None:
        self.stack, self.key = stack, key
        self.app = AsyncHttp(stack.host, stack.clock, held_polls)
        self.key_vault_reads: list[Mapping[str, Any]] = []
        self.notifications: list[Mapping[str, Any]] = []

    def send(self, action: Mapping[str, Any], inputs: Mapping[str, Any]) -> ActionResult:
        uri = inputs["uri"]
        asynchronous = action.get("operationOptions") != "DisableAsyncPattern"
        if uri.startswith(f"https://{VAULT}.vault.azure.net/"):
            self.key_vault_reads.append(inputs)
            secret = {"value": self.key, "id": f"{uri}/0123456789abcdef", "attributes": {}}
            return ActionResult("Succeeded", inputs, {"statusCode": 200, "body": secret})
        if uri == WEBHOOK:
            self.notifications.append(inputs)
            # A webhook that queues what it gets may answer 202 without a location: the
            # notification actions turn the asynchronous pattern off for that.
            status = "Succeeded" if not asynchronous else "Failed"
            return ActionResult(status, inputs, {"statusCode": 202, "body": None})
        if uri.startswith(self.stack.host.url + "/"):
            timeout = iso_duration_seconds(action.get("limit", {}).get("timeout", "P90D"))
            return self.app.send(inputs, timeout, asynchronous)
        raise AssertionError(f"the workflow would send a request off this machine: {uri}")


class WorkflowRun:
    """One run of the definition's actions, after its trigger fired."""

    def __init__(
        self, definition: Mapping[str, Any], values: Mapping[str, Any], endpoints: Endpoints
    ) -> None:
        declared = definition.get("parameters", {})
        assert set(values) <= set(declared), f"undeclared: {set(values) - set(declared)}"
        parameters = {n: values.get(n, p.get("defaultValue")) for n, p in declared.items()}
        self.definition, self.endpoints = definition, endpoints
        self.results: dict[str, ActionResult] = {}
        self.outputs: dict[str, dict[str, Any]] = {}
        self.scope = Scope(parameters, self.outputs)

    def run(self) -> dict[str, ActionResult]:
        self._run_scope(self.definition["actions"])
        return self.results

    def _skip(self, actions: Mapping[str, Any]) -> None:
        for name, action in actions.items():
            self.results[name] = ActionResult("Skipped")
            for inner in scopes_of(action):
                self._skip(inner)

    def _run_scope(self, actions: Mapping[str, Any]) -> None:
        for name in topological(actions):
            action = actions[name]
            ready = all(
                self.results[p].status in allowed for p, allowed in action["runAfter"].items()
            )
            if not ready:
                self._skip({name: action})
                continue
            result = self._run(action)
            self.results[name] = result
            if result.status == "Succeeded" and result.outputs is not None:
                self.outputs[name] = result.outputs

    def _run(self, action: Mapping[str, Any]) -> ActionResult:
        kind = action["type"]
        try:
            if kind == "If":
                return self._run_if(action)
            if kind in ("Query", "Select"):  # "where" and "select" are per item
                inputs = {"from": evaluate(action["inputs"]["from"], self.scope)}
            else:
                inputs = evaluate(action["inputs"], self.scope)
            if kind == "Http":
                return self.endpoints.send(action, inputs)
            if kind == "Compose":
                return ActionResult("Succeeded", inputs, {"body": inputs})
            items = inputs["from"]
            if not isinstance(items, list):
                raise ExpressionError(f"'from' must be an array, not {items!r}")
            if kind == "Query":
                where = action["inputs"]["where"]
                kept = [i for i in items if evaluate(where, self.scope.with_item(i)) is True]
                return ActionResult("Succeeded", inputs, {"body": kept})
            if kind == "Select":
                shape = action["inputs"]["select"]
                mapped = [evaluate(shape, self.scope.with_item(i)) for i in items]
                return ActionResult("Succeeded", inputs, {"body": mapped})
        except ExpressionError as err:
            return ActionResult("Failed", error=str(err))
        raise AssertionError(f"action type {kind} is not modelled here")

    def _run_if(self, action: Mapping[str, Any]) -> ActionResult:
        taken, other = action["actions"], action.get("else", {}).get("actions", {})
        condition = evaluate(action["expression"], self.scope)
        if not isinstance(condition, bool):
            raise ExpressionError(f"the condition is {condition!r}, not a boolean")
        if not condition:
            taken, other = other, taken
        self._skip(other)
        self._run_scope(taken)
        statuses = {self.results[n].status for n in taken}
        status = "Failed" if statuses & {"Failed", "TimedOut"} else "Succeeded"
        return ActionResult(status, inputs=condition)


def run_workflow(
    stack: Stack,
    request: Any,
    *,
    definition: Mapping[str, Any] | None = None,
    key: str = KEY,
    held_polls: int | None = 0,
) -> tuple[dict[str, ActionResult], Endpoints]:
    endpoints = Endpoints(stack, key, held_polls)
    values = {
        "functionAppUrl": stack.host.url,
        "keyVaultName": VAULT,
        "exportRequest": request,
        "notificationWebhookUrl": WEBHOOK,
    }
    results = WorkflowRun(definition or load_workflow(), values, endpoints).run()
    return results, endpoints


def statuses(results: Mapping[str, ActionResult]) -> dict[str, str]:
    return {name: result.status for name, result in results.items()}


def keyed_stack(make_stack: StackFactory, fleet: tuple[ServerSpec, ...]) -> Stack:
    """devhost requiring a function key, as the real host does for FUNCTION routes."""
    return make_stack(fleet=fleet, host_options={"function_key": KEY})


# -- the definition -------------------------------------------------------------------------------


def test_the_definition_is_a_consumption_workflow_the_runner_and_the_bicep_understand() -> None:
    definition = load_workflow()
    assert definition["$schema"] == SCHEMA
    # The Bicep rebuilds the definition from these keys and the trigger from these (README):
    # nothing else may hide in them.
    assert set(definition) == {
        "$schema",
        "contentVersion",
        "parameters",
        "triggers",
        "actions",
        "outputs",
    }
    (trigger_name, trigger), *more = definition["triggers"].items()
    assert not more and trigger_name == "Recurrence"
    assert set(trigger) == {"type", "recurrence", "runtimeConfiguration"}
    assert trigger["type"] == "Recurrence"
    recurrence = trigger["recurrence"]
    assert recurrence["frequency"] == "Day" and 1 <= recurrence["interval"] <= 500
    assert all(0 <= h <= 23 for h in recurrence["schedule"]["hours"])
    assert all(0 <= m <= 59 for m in recurrence["schedule"]["minutes"])
    # One workflow run at a time: a fleet run that outlasts the interval is not joined by another.
    assert trigger["runtimeConfiguration"] == {"concurrency": {"runs": 1}}

    declared = definition["parameters"]
    assert declared["exportRequest"]["type"] == "SecureObject"
    assert declared["notificationWebhookUrl"]["type"] == "SecureString"
    assert all("defaultValue" in p for p in declared.values())

    placed = placed_actions(definition["actions"])
    names = [p.name for p in placed]
    assert len(names) == len(set(names)), "action names must be unique in a workflow"
    used: set[str] = set()
    for spot in placed:
        action = spot.action
        assert len(spot.name) <= MAX_NAME and action["type"] in ACTION_TYPES, spot.name
        assert isinstance(action.get("runAfter"), dict), f"{spot.name} has no runAfter"
        for allowed in action["runAfter"].values():
            assert allowed and set(allowed) <= RUN_AFTER_STATUSES, (spot.name, allowed)
        item_allowed = action["type"] in ("Query", "Select")
        for text in strings(own_parts(action)):
            # ARM would evaluate a "[...]" string itself when the Bicep deploys the definition.
            assert not (text.startswith("[") and text.endswith("]")), text
            for expression in expressions_in(text):
                assert len(expression) <= MAX_EXPRESSION
                for call in calls(parse(expression)):
                    assert call.value in FUNCTIONS, f"{spot.name}: {call.value}() not modelled"
                    argument = call.args[0].value if call.args else None
                    if call.value == "body":
                        assert argument in spot.before, f"{spot.name} reads {argument} too early"
                    if call.value == "parameters":
                        assert argument in declared, f"{spot.name}: undeclared {argument}"
                        used.add(str(argument))
                    if call.value == "item":
                        assert item_allowed, f"{spot.name} calls item() outside Query/Select"
    assert used == set(declared), f"declared but unused: {set(declared) - used}"

    actions = {p.name: p.action for p in placed}
    start = actions["Start_export"]
    # Start_export follows the 202 + Location pattern; the webhooks answer 202 without one.
    assert "operationOptions" not in start
    for name in ("Notify_failures", "Notify_no_report"):
        assert actions[name]["operationOptions"] == "DisableAsyncPattern"
        assert actions[name]["runtimeConfiguration"]["secureData"]["properties"] == ["inputs"]
    # The key stays out of the run history: the secret's outputs and the POST's inputs.
    assert actions["Get_function_key"]["runtimeConfiguration"]["secureData"] == {
        "properties": ["outputs"]
    }
    assert start["runtimeConfiguration"]["secureData"] == {"properties": ["inputs"]}
    assert actions["Get_function_key"]["inputs"]["authentication"] == {
        "type": "ManagedServiceIdentity",
        "audience": "https://vault.azure.net",  # exactly, no trailing slash (Microsoft's docs)
    }


def test_the_async_timeout_outlasts_every_servers_deadline_within_the_run_limit() -> None:
    start = load_workflow()["actions"]["Start_export"]
    timeout = iso_duration_seconds(start["limit"]["timeout"])
    # No single export may run longer than the largest deadline a request may ask for, and the
    # action must not give up first; a run is bounded at 90 days in Consumption.
    assert MAX_DEADLINE_MINUTES * 60 <= timeout < RUN_DURATION_LIMIT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@body('A')?['x']?['y']", None),
        ("@body('A')?['report']?['n']", 3),
        ("@coalesce(body('A')?['missing'], 0)", 0),
        ("@greater(coalesce(body('A')?['report']?['n'], 0), 2)", True),
        ("@equals(body('A')?['none'], '')", True),
        ("@or(false, not(equals('a', 'b')))", True),
        ("@take(body('A')?['list'], 2)", [1, 2]),
        ("n=@{body('A')?['report']?['n']}, s=@{parameters('p')}!", "n=3, s=it's!"),
        ("@@{not an expression}", "@{not an expression}"),
        ("@parameters('p')", "it's"),
        ("@{body('A')?['report']}", '{"n":3}'),
    ],
)
def test_the_expression_subset(text: str, expected: Any) -> None:
    scope = Scope({"p": "it's"}, {"A": {"body": {"report": {"n": 3}, "list": [1, 2, 3]}}})
    assert evaluate(text, scope) == expected


@pytest.mark.parametrize(
    "text",
    [
        "@body('A')['missing']",  # without ? a missing property is an error
        "@greater(body('A')?['missing'], 0)",  # null is '' in a comparison: not a number
        "@body('B')",  # an action with no outputs
        "@parameters('undeclared')",
        "@length(body('A'))",  # not modelled: the definition may not use it
    ],
)
def test_expressions_that_fail_the_action(text: str) -> None:
    scope = Scope({}, {"A": {"body": {"report": {"n": 3}}}})
    with pytest.raises(ExpressionError):
        evaluate(text, scope)


# -- against the app ------------------------------------------------------------------------------


NOTIFIED = {
    "Get_function_key": "Succeeded",
    "Start_export": "Succeeded",
    "Check_report": "Succeeded",
    "Failed_servers": "Succeeded",
    "Select_failed_servers": "Succeeded",
    "Notify_failures": "Succeeded",
    "Record_success": "Skipped",
    "Notify_no_report": "Skipped",
}


def notified_report(
    results: Mapping[str, ActionResult], endpoints: Endpoints
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run report the workflow read, and the notification it sent, checked on the way."""
    assert statuses(results) == NOTIFIED
    (read,) = endpoints.key_vault_reads
    assert read["method"] == "GET" and read["queries"] == {"api-version": "7.4"}
    assert read["uri"] == f"https://{VAULT}.vault.azure.net/secrets/export-function-key"

    start = results["Start_export"]
    assert start.inputs["headers"]["x-functions-key"] == KEY
    assert start.first is not None and start.first.status_code == 202
    status_url = start.first.json()["statusQueryGetUri"]
    assert start.first.headers["Location"] == status_url
    assert start.polls and all(p.url == status_url for p in start.polls)
    assert all(p.waited >= p.retry_after for p in start.polls)  # on the virtual clock
    assert start.outputs is not None and start.outputs["statusCode"] == 200
    # The report is the Durable status body's "output" (HttpApiHandler.cs ConvertFrom ->
    # StatusResponsePayload, DataMember "output").
    body = start.outputs["body"]
    assert body["runtimeStatus"] == "Completed" and body["instanceId"] == body["output"]["runId"]
    assert results["Check_report"].inputs is True

    (notification,) = endpoints.notifications
    assert notification["method"] == "POST" and notification["uri"] == WEBHOOK
    sent: dict[str, Any] = notification["body"]
    report: dict[str, Any] = body["output"]
    assert sent["runId"] == report["runId"] and sent["summary"] == report["summary"]
    assert sent["workflowRun"] == RUN_NAME
    assert SIG not in json.dumps(sent) and KEY not in json.dumps(sent)
    return report, sent


def test_a_fleet_with_failures_takes_the_notification_branch(make_stack: StackFactory) -> None:
    fleet = (
        ServerSpec(SUB, "rg", "good", export_seconds=600),
        ServerSpec(SUB, "rg", "bad", export_seconds=600, fail_export=True),
    )
    stack = keyed_stack(make_stack, fleet)

    results, endpoints = run_workflow(stack, discover_body())

    report, sent = notified_report(results, endpoints)
    truth = {e.server_name: e.outcome for e in stack.emu.exports()}
    assert truth == {"good": "Succeeded", "bad": "Failed"}
    assert report["summary"]["failed"] == 1 and report["summary"]["timedOut"] == 0
    assert sent["failedServers"] == [
        {"server": server_id("bad", "rg"), "status": "Failed", "code": "AggregateException"}
    ]
    assert sent["text"] == (
        f"MySQL fleet export run {report['runId']} (Completed, outcome PartiallySucceeded): "
        "1 failed and 0 timed out of 2 servers."
    )


def test_timed_out_servers_take_the_notification_branch_too(make_stack: StackFactory) -> None:
    # A server past its deadline has no export either: it is retried with the failed ones
    # (retry-failed), and the workflow tells about it the same way.
    fleet = (
        ServerSpec(SUB, "rg", "good", export_seconds=600),
        ServerSpec(SUB, "rg", "huge", export_seconds=5 * 3600),
    )
    stack = keyed_stack(make_stack, fleet)

    results, endpoints = run_workflow(stack, discover_body(deadlineMinutes=60))

    report, sent = notified_report(results, endpoints)
    assert report["summary"]["failed"] == 0 and report["summary"]["timedOut"] == 1
    assert sent["failedServers"] == [
        {"server": server_id("huge", "rg"), "status": "TimedOut", "code": "DeadlineExceeded"}
    ]


def test_an_all_succeeded_fleet_takes_the_other_branch(make_stack: StackFactory) -> None:
    fleet = tuple(ServerSpec(SUB, "rg", f"ok{i}", export_seconds=900) for i in range(3))
    stack = keyed_stack(make_stack, fleet)

    results, endpoints = run_workflow(stack, discover_body())

    assert statuses(results) == {
        "Get_function_key": "Succeeded",
        "Start_export": "Succeeded",
        "Check_report": "Succeeded",
        "Failed_servers": "Skipped",
        "Select_failed_servers": "Skipped",
        "Notify_failures": "Skipped",
        "Record_success": "Succeeded",
        "Notify_no_report": "Skipped",
    }
    assert results["Check_report"].inputs is False
    report = results["Start_export"].outputs["body"]["output"]  # type: ignore[index]
    assert report["summary"]["succeeded"] == 3 and report["summary"]["failed"] == 0
    assert results["Record_success"].outputs == {
        "body": {"runId": report["runId"], "summary": report["summary"]}
    }
    assert endpoints.notifications == []
    assert {e.outcome for e in stack.emu.exports()} == {"Succeeded"}


def test_the_action_follows_location_and_waits_retry_after_on_the_virtual_clock(
    make_stack: StackFactory,
) -> None:
    # With the clock held for the first poll, the run cannot finish before it (the export needs
    # emulated time), so that poll is answered 202: each wait moves the clock by exactly the
    # Retry-After of the answer before it. After it the host moves the clock to the end.
    stack = keyed_stack(make_stack, (ServerSpec(SUB, "rg", "slow", export_seconds=3 * 3600),))

    results, _ = run_workflow(
        stack,
        {"servers": [server_id("slow", "rg")], "target": {"sasUriList": [SAS]}},
        held_polls=1,
    )

    start = results["Start_export"]
    assert start.status == "Succeeded"
    assert start.first is not None and start.first.headers["Retry-After"] == "10"
    held = start.polls[0]
    assert held.retry_after == 10 and held.waited == 10
    assert held.status == 202 and held.location_after == held.url
    # The Durable extension asks for 5 s on a running instance (HttpApiHandler.cs).
    assert held.retry_after_after == "5"
    later = start.polls[1:]
    assert later and all(p.retry_after == 5 and p.waited >= 5 for p in later)
    assert [p.status for p in later][-1] == 200 and all(p.status == 202 for p in later[:-1])
    assert start.outputs is not None
    assert start.outputs["body"]["output"]["summary"]["succeeded"] == 1


def test_a_run_that_outlasts_the_timeout_is_notified_as_having_no_report(
    make_stack: StackFactory,
) -> None:
    # A copy of the definition with a 30-minute limit against a 3-hour export; the clock is held
    # for every poll, so only the action's waits move it and the export cannot end first.
    definition = copy.deepcopy(load_workflow())
    definition["actions"]["Start_export"]["limit"]["timeout"] = "PT30M"
    stack = keyed_stack(make_stack, (ServerSpec(SUB, "rg", "slow", export_seconds=3 * 3600),))

    results, endpoints = run_workflow(
        stack,
        {"servers": [server_id("slow", "rg")], "target": {"sasUriList": [SAS]}},
        definition=definition,
        held_polls=None,
    )

    assert statuses(results)["Start_export"] == "TimedOut"
    assert statuses(results)["Check_report"] == "Skipped"
    assert statuses(results)["Notify_failures"] == "Skipped"
    assert statuses(results)["Notify_no_report"] == "Succeeded"
    start = results["Start_export"]
    assert all(p.status == 202 for p in start.polls)
    assert sum(p.waited for p in start.polls) <= 30 * 60
    (notification,) = endpoints.notifications
    assert "has no report to check" in notification["body"]["text"]
    assert stack.emu.counters().exports_running == 1  # the app's run goes on without it


@pytest.mark.parametrize(
    ("key", "request_body", "status"),
    [
        ("not-the-key", discover_body(), 401),  # the secret holds a revoked key
        (KEY, {}, 400),  # the request parameter was never set: the app refuses, nothing starts
    ],
)
def test_a_refused_start_is_notified_as_having_no_report(
    make_stack: StackFactory, key: str, request_body: Any, status: int
) -> None:
    stack = keyed_stack(make_stack, (ServerSpec(SUB, "rg", "db1", export_seconds=60),))

    results, endpoints = run_workflow(stack, request_body, key=key)

    assert statuses(results) == {
        "Get_function_key": "Succeeded",
        "Start_export": "Failed",
        "Check_report": "Skipped",
        "Failed_servers": "Skipped",
        "Select_failed_servers": "Skipped",
        "Notify_failures": "Skipped",
        "Record_success": "Skipped",
        "Notify_no_report": "Succeeded",
    }
    start = results["Start_export"]
    assert start.outputs is not None and start.outputs["statusCode"] == status
    assert start.polls == []
    assert len(endpoints.notifications) == 1
    assert stack.emu.exports() == []
