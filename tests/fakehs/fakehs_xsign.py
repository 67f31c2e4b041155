"""fakehs_xsign.py -- the fake homeserver's cross-signing (stdlib only), as
../shared/spec/matrix/ has it (the "Cross-signing" section and
data/api/client-server/cross_signing.yaml):

  POST /keys/device_signing/upload  user-interactive auth, always (as the
        brief's servers do; the spec lets a server skip it for a first
        upload): with no auth, or a session it did not hand out, 401
        {flows: [{stages: [m.login.password]}], params, session}; with
        m.login.password auth in that session, the token's user and a wrong
        password, 401 with the same flows and errcode M_FORBIDDEN; with the
        right one, the keys are checked (the user's, the usage, one ed25519
        key named by itself) and kept: 200 {}. A user whose master key is
        already set may replace it with the password (as Synapse lets a
        client reset), or with none when a replacement was allowed
        (/_fake/xsign {allow_replace: true}, as Synapse's admin API does);
        the same keys again need no auth (the spec's idempotent upload).
  POST /keys/signatures/upload  {user: {key id: signed object}}: a device's
        keys whose object (signatures aside) is the one the server holds,
        or the master key's, get the new signatures merged in; anything
        else is a failure {errcode, error} in the answer's failures.
  /keys/query then carries master_keys and self_signing_keys of every user
        asked for (user_signing_keys of the asker's own user).

Signatures are not checked here (the fake stays stdlib-only): the scenario
checks them with libolm's ed25519_verify, as a member's client would.

Control: POST /_fake/xsign {user_id, master_key?, self_signing_key?,
user_signing_key?, allow_replace?} sets a user's keys (keys made
elsewhere) or allows a replacement; GET /_fake/xsign?user_id= gives
{keys, uploads: [device_signing bodies, auth hidden], signatures: [bodies],
challenges: n}."""
import copy
import secrets

FLOWS = [{"stages": ["m.login.password"]}]
FIELDS = {"master_key": "master", "self_signing_key": "self_signing",
          "user_signing_key": "user_signing"}

HS = None
STATE = {}  # user -> {"keys": {field: obj}, "uploads": [], "signatures": [],
#                      "challenges": 0, "allow_replace": False}
SESSIONS = {}  # session id -> user


def install(hs):
    global HS
    HS = hs


def _st(user):
    return STATE.setdefault(user, {"keys": {}, "uploads": [], "signatures": [],
                                   "challenges": 0, "allow_replace": False})


def _error(status, errcode, error, **extra):
    body = {"errcode": errcode, "error": error}
    body.update(extra)
    return status, body


def _pub(obj):
    keys = (obj or {}).get("keys") or {}
    if not isinstance(keys, dict) or len(keys) != 1:
        return None
    (name, key), = keys.items()
    if not isinstance(key, str) or name != "ed25519:" + key:
        return None
    return key


def _check_key(user, field, obj):
    if not isinstance(obj, dict) or obj.get("user_id") != user:
        return "%s is not the user's" % field
    if obj.get("usage") != [FIELDS[field]]:
        return "%s has the wrong usage" % field
    if _pub(obj) is None:
        return "%s does not have exactly one ed25519 key" % field
    return None


def _same(a, b):
    strip = lambda o: {k: v for k, v in (o or {}).items() if k not in ("signatures", "unsigned")}
    return strip(a) == strip(b)


def _auth(user, auth):
    """None when auth is good; else the 401 to answer"""
    sess = auth.get("session") if isinstance(auth, dict) else None
    if sess not in SESSIONS or SESSIONS[sess] != user:
        sess = secrets.token_urlsafe(12)
        SESSIONS[sess] = user
        _st(user)["challenges"] += 1
        return 401, {"flows": FLOWS, "params": {}, "session": sess}
    ident = auth.get("identifier") or {}
    name = ident.get("user") if ident.get("type") == "m.id.user" else auth.get("user")
    if name and not name.startswith("@"):
        name = "@%s:%s" % (name, HS.server_name)
    u = HS.users.get(user) or {}
    if (auth.get("type") != "m.login.password" or name != user or u.get("password") is None
            or auth.get("password") != u["password"]):
        _st(user)["challenges"] += 1
        return 401, {"errcode": "M_FORBIDDEN", "error": "Invalid password",
                     "flows": FLOWS, "params": {}, "session": sess, "completed": []}
    del SESSIONS[sess]
    return None


def device_signing_upload(user, req):
    st = _st(user)
    req = req if isinstance(req, dict) else {}
    logged = {k: v for k, v in req.items() if k != "auth"}
    if "auth" in req:
        logged["auth"] = {k: ("[hidden]" if k == "password" else v)
                          for k, v in (req["auth"] or {}).items()}
    st["uploads"].append(logged)
    new = {f: req[f] for f in FIELDS if f in req}
    old = st["keys"]
    if old.get("master_key") and not st["allow_replace"]:
        if all(_same(old.get(f), o) for f, o in new.items()):
            return 200, {}
    if not st["allow_replace"]:  # a replacement too, as Synapse does
        bad = _auth(user, req.get("auth"))
        if bad:
            return bad
    for f, o in new.items():
        why = _check_key(user, f, o)
        if why:
            return _error(400, "M_INVALID_PARAM", why)
    if "master_key" not in new and not old.get("master_key"):
        return _error(400, "M_MISSING_PARAM", "No master signing key is available")
    master = _pub(new.get("master_key") or old.get("master_key"))
    for f in ("self_signing_key", "user_signing_key"):
        sig = ((new.get(f) or {}).get("signatures") or {}).get(user) or {}
        if f in new and "ed25519:" + master not in sig:
            return _error(400, "M_INVALID_SIGNATURE", "%s is not signed by the master key" % f)
    st["keys"] = dict(old, **copy.deepcopy(new))
    st["allow_replace"] = False
    return 200, {}


def signatures_upload(who, req):
    failures = {}
    _st(who)["signatures"].append(req)
    for user, objs in (req or {}).items():
        for kid, obj in (objs or {}).items():
            keys = HS.devkeys.get((user, kid))
            target = keys.device_keys if keys and keys.device_keys else None
            master = _st(user)["keys"].get("master_key")
            if target is None and master and _pub(master) == kid:
                target = master
            if target is None or not isinstance(obj, dict) or not _same(target, obj):
                failures.setdefault(user, {})[kid] = {
                    "errcode": "M_INVALID_SIGNATURE" if target else "M_NOT_FOUND",
                    "error": "the object is not the key the server holds"
                    if target else "no such key"}
                continue
            for signer, sigs in (obj.get("signatures") or {}).items():
                if signer != who:
                    continue
                target.setdefault("signatures", {}).setdefault(signer, {}).update(sigs)
    return 200, {"failures": failures}


def query_extra(asker, users):
    """the cross-signing part of a /keys/query answer"""
    out = {"master_keys": {}, "self_signing_keys": {}, "user_signing_keys": {}}
    for user in users:
        keys = STATE.get(user, {}).get("keys", {})
        for f, part in (("master_key", "master_keys"), ("self_signing_key", "self_signing_keys"),
                        ("user_signing_key", "user_signing_keys")):
            if keys.get(f) and (f != "user_signing_key" or user == asker):
                out[part][user] = keys[f]
    return out


def handle(who, parts, method, req):
    """a (status, body) for the endpoints above, or None"""
    if method != "POST":
        return None
    with HS.cond:
        if parts == ["keys", "device_signing", "upload"]:
            return device_signing_upload(who["user"], req)
        if parts == ["keys", "signatures", "upload"]:
            return signatures_upload(who["user"], req)
    return None


def control(name, req, q):
    """called with HS.cond held"""
    if name != "xsign":
        return None
    if req:
        st = _st(req["user_id"])
        for f in FIELDS:
            if f in req:
                st["keys"][f] = req[f]
        if "allow_replace" in req:
            st["allow_replace"] = bool(req["allow_replace"])
        return 200, {}
    st = STATE.get(q.get("user_id"), _st(q.get("user_id")))
    return 200, {"keys": st["keys"], "uploads": st["uploads"], "signatures": st["signatures"],
                 "challenges": st["challenges"]}
