#!/usr/bin/env python3
"""e2ee_member.py -- a member's device in an encrypted room, for
tests/integ/matrix_e2ee_rx.sh: its own libolm account (Debian's python3-olm),
talking to the fake homeserver with the member's token as Element would.

State (the account, the Olm session with the bot, the room's outbound
Megolm session) is pickled in DIR between calls.

  e2ee_member.py DIR HS USER TOKEN DEVICE init
  e2ee_member.py ... olm BOT_USER        claim a one-time key of the bot's
                                          device, make an Olm session
  e2ee_member.py ... new-session ROOM    a new outbound Megolm session
  e2ee_member.py ... share ROOM BOT_USER [nodk]   its key to the bot over
                                          Olm (m.room_key; nodk: without
                                          sender_device_keys)
  e2ee_member.py ... encrypt ROOM TEXT   prints the m.room.encrypted
                                          content of an m.text message
  e2ee_member.py ... upload-keys [N]     the device keys, signed, to
                                          /keys/upload (for /keys/query),
                                          and N signed one-time keys
  e2ee_member.py ... read-keys           the to-device messages queued for
                                          the member: Olm-decrypted, the
                                          room keys in them kept (prints
                                          how many new)
  e2ee_member.py ... decrypt ROOM EVENT  prints the decrypted event (JSON:
                                          type, content, room_id) of the
                                          bot's m.room.encrypted EVENT, or
                                          exits 1 when it cannot
"""
import hashlib
import json
import os
import sys
import urllib.parse
import urllib.request

import olm

PASS = "member-pickle"


def canon(o):
    return json.dumps(o, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


class Member:
    def __init__(self, d, hs, user, token, device):
        self.d, self.hs, self.user, self.token, self.device = d, hs, user, token, device

    def call(self, method, path, body=None):
        req = urllib.request.Request(self.hs + "/_matrix/client/v3" + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": "Bearer " + self.token,
                                              "Content-Type": "application/json"})
        return json.load(urllib.request.urlopen(req, timeout=30))

    def path(self, name):
        return os.path.join(self.d, name)

    def load_account(self):
        return olm.Account.from_pickle(open(self.path("account"), "rb").read(), PASS)

    def save(self, name, obj):
        open(self.path(name), "wb").write(obj.pickle(PASS))

    def device_keys(self, acc):
        ik = acc.identity_keys
        dk = {"user_id": self.user, "device_id": self.device,
              "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
              "keys": {"curve25519:" + self.device: ik["curve25519"],
                       "ed25519:" + self.device: ik["ed25519"]}}
        dk["signatures"] = {self.user: {"ed25519:" + self.device: acc.sign(canon(dk))}}
        return dk

    def bot_keys(self, bot):
        # asked once, as a client keeps a device list: a test that holds
        # the bot's /keys/query must not hold the member's
        cache = self.path("bot-keys")
        if not os.path.exists(cache):
            devs = self.call("POST", "/keys/query", {"device_keys": {bot: []}})["device_keys"][bot]
            (dev, dk), = devs.items()
            keys = [dev, dk["keys"]["curve25519:" + dev], dk["keys"]["ed25519:" + dev]]
            open(cache, "w").write(json.dumps(keys))
        return json.load(open(cache))

    def init(self):
        os.makedirs(self.d, exist_ok=True)
        self.save("account", olm.Account())

    def upload_keys(self, n=0):
        acc = self.load_account()
        body = {"device_keys": self.device_keys(acc)}
        if n:
            acc.generate_one_time_keys(n)
            otks = {}
            for kid, key in acc.one_time_keys["curve25519"].items():
                obj = {"key": key}
                obj["signatures"] = {self.user: {"ed25519:" + self.device: acc.sign(canon(obj))}}
                otks["signed_curve25519:" + kid] = obj
            body["one_time_keys"] = otks
        self.call("POST", "/keys/upload", body)
        if n:
            acc.mark_keys_as_published()
        self.save("account", acc)

    def sessions(self):
        names = sorted(f for f in os.listdir(self.d) if f == "olm" or f.startswith("olm-in-"))
        return [(f, olm.Session.from_pickle(open(self.path(f), "rb").read(), PASS))
                for f in names]

    def olm_decrypt(self, acc, sender_key, c):
        if c["type"] == 0:
            msg = olm.OlmPreKeyMessage(c["body"])
            for name, sess in self.sessions():
                if sess.matches(msg, sender_key):
                    plain = sess.decrypt(msg)
                    self.save(name, sess)
                    return plain
            sess = olm.InboundSession(acc, msg, sender_key)
            acc.remove_one_time_keys(sess)
            plain = sess.decrypt(msg)
            n = len([f for f in os.listdir(self.d) if f.startswith("olm-in-")])
            self.save("olm-in-%03d" % n, sess)
            self.save("account", acc)
            return plain
        msg = olm.OlmMessage(c["body"])
        for name, sess in self.sessions():
            try:
                plain = sess.decrypt(msg)
            except olm.OlmSessionError:
                continue
            self.save(name, sess)
            return plain
        raise RuntimeError("no Olm session decrypts it")

    def read_keys(self):
        acc = self.load_account()
        curve, ed = acc.identity_keys["curve25519"], acc.identity_keys["ed25519"]
        seen_f = self.path("seen")
        seen = set(open(seen_f).read().split()) if os.path.exists(seen_f) else set()
        evs = json.load(urllib.request.urlopen(
            self.hs + "/_fake/to_device?user_id="
            + urllib.parse.quote(self.user), timeout=30))["events"]
        new = 0
        for ev in evs:
            c = ev.get("content") or {}
            if ev.get("type") != "m.room.encrypted" or curve not in c.get("ciphertext", {}):
                continue
            h = hashlib.sha256(json.dumps(c, sort_keys=True).encode()).hexdigest()
            if h in seen:
                continue
            seen.add(h)
            plain = json.loads(self.olm_decrypt(acc, c["sender_key"], c["ciphertext"][curve]))
            assert plain["recipient"] == self.user and plain["recipient_keys"]["ed25519"] == ed
            assert plain["sender"] == ev["sender"]
            if plain["type"] == "m.room_key":
                k = plain["content"]
                g = olm.InboundGroupSession(k["session_key"])
                assert g.id == k["session_id"]
                open(self.path("in-" + k["session_id"].replace("/", "_")), "wb").write(
                    g.pickle(PASS))
                new += 1
            acc = self.load_account()
        open(seen_f, "w").write("\n".join(sorted(seen)))
        print(new)

    def decrypt(self, room, event_id):
        evs = json.load(urllib.request.urlopen(
            self.hs + "/_fake/events?room_id="
            + urllib.parse.quote(room), timeout=30))["events"]
        ev = [e for e in evs if e.get("event_id") == event_id][0]
        c = ev["content"]
        f = self.path("in-" + c["session_id"].replace("/", "_"))
        if ev["type"] != "m.room.encrypted" or not os.path.exists(f):
            sys.exit(1)
        g = olm.InboundGroupSession.from_pickle(open(f, "rb").read(), PASS)
        plain, _ = g.decrypt(c["ciphertext"])
        out = json.loads(plain)
        assert out["room_id"] == room
        print(json.dumps(out))

    def olm(self, bot):
        acc = self.load_account()
        dev, curve, _ = self.bot_keys(bot)
        got = self.call("POST", "/keys/claim",
                        {"one_time_keys": {bot: {dev: "signed_curve25519"}}})
        (_, otk), = got["one_time_keys"][bot][dev].items()
        self.save("olm", olm.OutboundSession(acc, curve, otk["key"]))

    def new_session(self, room):
        g = olm.OutboundGroupSession()
        self.save("megolm-" + room, g)
        # its key from index 0, as a client shares it before it sends: a
        # key shared late still opens the messages sent before
        open(self.path("megolm-key-" + room), "w").write(g.session_key)

    def group(self, room):
        return olm.OutboundGroupSession.from_pickle(open(self.path("megolm-" + room), "rb").read(),
                                                    PASS)

    def share(self, room, bot, nodk=False):
        acc = self.load_account()
        sess = olm.Session.from_pickle(open(self.path("olm"), "rb").read(), PASS)
        g = self.group(room)
        dev, curve, ed = self.bot_keys(bot)
        plain = {"type": "m.room_key", "sender": self.user, "recipient": bot,
                 "recipient_keys": {"ed25519": ed},
                 "keys": {"ed25519": acc.identity_keys["ed25519"]},
                 "content": {"algorithm": "m.megolm.v1.aes-sha2", "room_id": room,
                             "session_id": g.id,
                             "session_key": open(self.path("megolm-key-" + room)).read()}}
        if not nodk:
            plain["sender_device_keys"] = self.device_keys(acc)
        msg = sess.encrypt(json.dumps(plain))
        content = {"algorithm": "m.olm.v1.curve25519-aes-sha2",
                   "sender_key": acc.identity_keys["curve25519"],
                   "ciphertext": {curve: {"type": msg.message_type, "body": msg.ciphertext}}}
        txn = "m%d" % int.from_bytes(os.urandom(6), "big")
        self.call("PUT", "/sendToDevice/m.room.encrypted/" + txn,
                  {"messages": {bot: {dev: content}}})
        self.save("olm", sess)

    def encrypt(self, room, text):
        acc = self.load_account()
        g = self.group(room)
        ct = g.encrypt(json.dumps({"type": "m.room.message", "room_id": room,
                                   "content": {"msgtype": "m.text", "body": text}}))
        self.save("megolm-" + room, g)
        print(json.dumps({"algorithm": "m.megolm.v1.aes-sha2",
                          "sender_key": acc.identity_keys["curve25519"], "ciphertext": ct,
                          "session_id": g.id, "device_id": self.device}))


def main():
    d, hs, user, token, device, cmd, *args = sys.argv[1:]
    m = Member(d, hs, user, token, device)
    if cmd == "init":
        m.init()
    elif cmd == "upload-keys":
        m.upload_keys(int(args[0]) if args else 0)
    elif cmd == "read-keys":
        m.read_keys()
    elif cmd == "decrypt":
        m.decrypt(args[0], args[1])
    elif cmd == "olm":
        m.olm(args[0])
    elif cmd == "new-session":
        m.new_session(args[0])
    elif cmd == "share":
        m.share(args[0], args[1], len(args) > 2 and args[2] == "nodk")
    elif cmd == "encrypt":
        m.encrypt(args[0], args[1])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
