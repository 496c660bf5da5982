"""Who may use the web chat: password hashes, the auth file, signed sessions, the login page.

Login is optional (BRONWIJZER_AUTH_FILE with `user:hash` lines). Create a line with

    python -c "from presentation.web.auth import hash_password as h; import getpass; \
print('anna:' + h(getpass.getpass()))" >> auth.txt

After a good password the browser gets a session cookie holding `user.expiry.signature`,
signed with HMAC-SHA256 under a secret that is new on every start (a restart logs
everyone out). Nothing here needs Gradio: the app hands `Sessions.user_of` to Gradio's
public `auth_dependency` and uses the same check for its own routes.

Password guessing is slowed by `LoginThrottle`: after a number of failures per user name,
and (higher) per client address, login pauses with exponential back-off.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import ipaddress
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bronwijzer.domain import BronwijzerError

if TYPE_CHECKING:
    from starlette.requests import Request

PBKDF2_ITERATIONS = 600_000
SESSION_COOKIE = "bronwijzer_session"
SESSION_SECONDS = 12 * 3600  # one working day; then log in again


# --- passwords ----------------------------------------------------------------------------
def hash_password(password: str, *, iterations: int = PBKDF2_ITERATIONS,
                  salt: bytes | None = None) -> str:
    """`pbkdf2_sha256$iterations$salt_hex$hash_hex`, for a line `user:<this>` in the auth file."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, iterations, salt_hex, hash_hex = encoded.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"),
                                     bytes.fromhex(salt_hex), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), hash_hex)


def load_auth_file(path: str | Path) -> dict[str, str]:
    """{user: encoded hash}; blank lines and # comments are skipped."""
    users: dict[str, str] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BronwijzerError(f"{path}: cannot read auth file ({exc.strerror})") from None
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, encoded = line.partition(":")
        if not sep or not user or not encoded.startswith("pbkdf2_sha256$"):
            raise BronwijzerError(f"{path}:{number}: expected `user:pbkdf2_sha256$…`")
        users[user] = encoded
    if not users:
        raise BronwijzerError(f"{path}: no users; add a `user:hash` line "
                              "(see presentation/web/auth.py)")
    return users


def make_authenticator(users: dict[str, str]) -> Callable[[str, str], bool]:
    # an unknown user costs the same hashing time as a known one: no user enumeration
    dummy = hash_password(secrets.token_hex(8))

    def authenticate(username: str, password: str) -> bool:
        return verify_password(password, users.get(username, dummy)) and username in users

    return authenticate


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- sessions -----------------------------------------------------------------------------
class Sessions:
    """Issues and checks signed session tokens for the users of one auth file."""

    def __init__(self, users: dict[str, str], *, secret: bytes | None = None,
                 lifetime: float = SESSION_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self.users = users
        self.lifetime = lifetime
        self._secret = secret or secrets.token_bytes(32)  # per process: never on disk
        self._clock = clock
        self._authenticate = make_authenticator(users)

    def login(self, username: str, password: str) -> str | None:
        """A fresh token when the password is right, else None."""
        return self.issue(username) if self._authenticate(username, password) else None

    def issue(self, user: str) -> str:
        # base64url keeps any user name cookie-safe and free of the "." separator
        name = base64.urlsafe_b64encode(user.encode("utf-8")).decode("ascii").rstrip("=")
        payload = f"{name}.{int(self._clock() + self.lifetime)}"
        return f"{payload}.{self._sign(payload)}"

    def user(self, token: str | None) -> str | None:
        """The user a token belongs to; None when it is missing, forged or expired."""
        name, _, rest = (token or "").partition(".")
        expiry, _, signature = rest.partition(".")
        if not (name and expiry.isdigit() and signature):
            return None
        if not hmac.compare_digest(signature, self._sign(f"{name}.{expiry}")):
            return None
        if int(expiry) <= self._clock():
            return None
        try:
            user = base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user if user in self.users else None

    def user_of(self, request: Request) -> str | None:
        """Gradio's `auth_dependency`: the logged-in user of a request, or None."""
        return self.user(request.cookies.get(SESSION_COOKIE))

    def _sign(self, payload: str) -> str:
        return hmac.new(self._secret, payload.encode("ascii"), hashlib.sha256).hexdigest()


# --- throttling password guesses ----------------------------------------------------------
MAX_LOCKOUT_SECONDS = 3600.0
FORGET_SECONDS = 900.0  # this long without failures after a pause ends: count anew
MAX_TRACKED = 10_000  # keys kept in memory; random user names must not fill it


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    locked_until: float = 0.0
    pending: int = 0  # attempts whose password is being checked right now


class LoginThrottle:
    """Counts failed logins per user name and per client address, in memory.

    From the `max_failures`-th failure on a key, login for that key pauses for
    `lockout` seconds, doubling with each further failure up to an hour. During a pause
    even the right password is refused, or guessing would go on. A counter starts
    again after FORGET_SECONDS without failures. The address limit is higher: many
    people can share one address (an office NAT), a user name belongs to one person.

    Use: `attempt()` before checking a password (0 = go ahead, else seconds to wait),
    then `failed()` or `succeeded()`.
    """

    def __init__(self, *, max_failures: int = 5, max_failures_per_address: int = 20,
                 lockout: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = {"user": max_failures, "address": max_failures_per_address}
        self.lockout = lockout
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], _Failures] = {}

    def attempt(self, user: str, address: str) -> float:
        now = self._clock()
        with self._lock:
            entries = [self._entry(key, now) for key in self._keys(user, address)]
            wait = max(entry.locked_until - now for entry in entries)
            if wait > 0:
                return wait
            # checks still running count too: simultaneous guesses cannot all slip in
            # before the first of them is recorded (after a pause: one at a time)
            if any(entry.pending >= max(1, self.limits[key[0]] - entry.count)
                   for key, entry in zip(self._keys(user, address), entries, strict=True)):
                return 1.0
            for entry in entries:
                entry.pending += 1
            return 0.0

    def failed(self, user: str, address: str) -> float:
        """Record a wrong password; returns the pause it starts (0: none yet)."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key in self._keys(user, address):
                entry = self._entry(key, now)
                entry.pending = max(0, entry.pending - 1)
                entry.count += 1
                entry.last = now
                over = entry.count - self.limits[key[0]]
                if over >= 0:
                    pause = min(self.lockout * 2.0 ** over, MAX_LOCKOUT_SECONDS)
                    entry.locked_until = now + pause
                wait = max(wait, entry.locked_until - now)
        return wait

    def succeeded(self, user: str, address: str) -> None:
        # the user's counter restarts; the address keeps its count, so one valid account
        # cannot be used to reset the limit while guessing other users' passwords
        now = self._clock()
        with self._lock:
            self._failures.pop(("user", user), None)
            entry = self._entry(("address", address), now)
            entry.pending = max(0, entry.pending - 1)

    def _keys(self, user: str, address: str) -> list[tuple[str, str]]:
        return [("user", user), ("address", address)]

    def _entry(self, key: tuple[str, str], now: float) -> _Failures:
        entry = self._failures.get(key)
        if entry is None:
            if len(self._failures) >= MAX_TRACKED:
                self._forget(now)
            entry = self._failures[key] = _Failures()
        elif not entry.pending and now - max(entry.last, entry.locked_until) > FORGET_SECONDS:
            entry.count = 0  # quiet for a while after the last failure or pause: start again
        return entry

    def _forget(self, now: float) -> None:
        """Drop keys without a running pause or check, oldest first, to make room."""
        idle = sorted((entry.last, key) for key, entry in self._failures.items()
                      if entry.locked_until <= now and not entry.pending)
        for _, key in idle[: max(1, len(idle) // 2)]:
            del self._failures[key]


def wait_text(seconds: float) -> str:
    """'1 seconde', '30 seconden' or '4 minuten', rounded up: how long to wait, in Dutch."""
    if seconds <= 90:
        whole = max(1, math.ceil(seconds))
        return f"{whole} seconde" if whole == 1 else f"{whole} seconden"
    return f"{math.ceil(seconds / 60)} minuten"


def locked_message(seconds: float) -> str:
    return (f"Te veel mislukte pogingen om in te loggen. Probeer het over {wait_text(seconds)} "
            "opnieuw.")


# --- the login page -------------------------------------------------------------------------
WRONG_CREDENTIALS = "Onbekende gebruikersnaam of onjuist wachtwoord. Probeer het opnieuw."

_LOGIN_STYLE = """
body { font-family: system-ui, "Segoe UI", Arial, sans-serif; background: #f8fafc;
       color: #1f2937; margin: 0; }
main { max-width: 22rem; margin: 12vh auto; background: #fff; padding: 1.5rem 2rem;
       border: 1px solid #d9dde3; border-radius: 8px; }
h1 { font-size: 1.4rem; margin-top: 0; }
label { display: block; font-weight: 600; margin: 1rem 0 .3rem; }
input { width: 100%; box-sizing: border-box; padding: .5rem; font-size: 1rem;
        border: 1px solid #6b7280; border-radius: 4px; }
input:focus, button:focus { outline: 3px solid #1d4ed8; outline-offset: 1px; }
button { margin-top: 1.2rem; padding: .55rem 1.2rem; font-size: 1rem; color: #fff;
         background: #1d4ed8; border: 0; border-radius: 4px; cursor: pointer; }
.fout { color: #b91c1c; font-weight: 600; }
"""


def login_page(error: str = "", username: str = "") -> str:
    """The login form: plain HTML, no scripts, no external resources."""
    invalid = ' aria-invalid="true" aria-describedby="login-fout"' if error else ""
    message = (f'<p id="login-fout" class="fout" role="alert">{html.escape(error)}</p>'
               if error else "")
    # after a failed attempt the name stays filled in and the password field gets focus
    focus_user, focus_password = ("", " autofocus") if username else (" autofocus", "")
    return f"""<!doctype html>
<html lang="nl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Inloggen – Bronwijzer</title>
<style>{_LOGIN_STYLE}</style>
</head>
<body>
<main>
<h1>Bronwijzer</h1>
<p>Log in om Bronwijzer te gebruiken.</p>
{message}
<form method="post" action="/login">
<label for="username">Gebruikersnaam</label>
<input id="username" name="username" type="text" autocomplete="username" required
       value="{html.escape(username)}"{focus_user}{invalid}>
<label for="password">Wachtwoord</label>
<input id="password" name="password" type="password" autocomplete="current-password"
       required{focus_password}{invalid}>
<button type="submit">Inloggen</button>
</form>
</main>
</body>
</html>
"""
