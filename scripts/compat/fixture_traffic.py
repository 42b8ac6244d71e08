#!/usr/bin/env python3
"""Drives one running Switchboard through a fixed day of traffic touching every kind of
stored record (customers on every channel, merges, retries, replies with deliveries,
transfers with notes, calls, complaints, follow-ups, requirements, ratings, resolves,
two routing groups), then reads back every view it can and writes them as the golden
expectations of tests/compat/<release>/expect.json. Standard library only.

    fixture_traffic.py <api base url> <admin token> <adapter token> <out.json>
"""
import json
import sys
import time
import urllib.error
import urllib.request

API, ADMIN, ADAPTER, OUT = sys.argv[1:5]


def call(method, path, body=None, token=ADMIN, ok=(200, 201, 202, 204)):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(API + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req) as resp:
            status, text = resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    if status not in ok:
        sys.exit("%s %s answered %d: %s" % (method, path, status, text))
    return json.loads(text) if text else None


def message(external_id, channel, sender, text, network=None, **extra):
    body = {"channel": channel, "network": network, "external_id": external_id,
            "from": sender, "text": text}
    body.update(extra)
    return call("POST", "/v1/messages", body, token=ADAPTER)


def agent(agent_id, name, **extra):
    call("PUT", "/v1/agents/" + agent_id, dict(name=name, **extra))


def online(agent_id):
    call("PUT", "/v1/agents/%s/presence" % agent_id, {"presence": "online"})


# Agents: two in the default group (ann speaks Spanish and does billing), one in sales.
agent("ann", "Ann", capacity={"phone": 1, "email": 5, "chat": 2, "social": 3},
      languages=["en", "es"], skills={"billing": 3})
agent("bob", "Bob", capacity={"phone": 1, "email": 5, "chat": 1, "social": 3})
agent("cy", "Cy", group="sales")
online("ann")
online("bob")

receipts = {}
# Every channel and network; a name, a subject, a language, a group.
receipts["email"] = message("fx-email-1", "email", "alice@example.com", "Where is my order?",
                            subject="Order 1234", display_name="Alice Example")
receipts["chat"] = message("fx-chat-1", "chat", "web-visitor-1", "hello from the site",
                           identities=[{"kind": "email", "value": "alice@example.com"}])
receipts["whatsapp"] = message("fx-wa-1", "social", "+4915112345678", "Hallo!", network="whatsapp")
receipts["sms"] = message("fx-sms-1", "phone", "+14155550123", "call me back", network="sms")
receipts["telegram"] = message("fx-tg-1", "social", "12345678", "привет", network="telegram")
receipts["sales"] = message("fx-sales-1", "chat", "web-visitor-2", "a quote, please", group="sales")
receipts["spanish"] = message("fx-es-1", "chat", "web-visitor-3", "hola", language="es")
receipts["queued"] = message("fx-chat-2", "chat", "web-visitor-4", "anyone there?")
# A provider's retry: stored once, answered as a duplicate.
receipts["retry"] = message("fx-wa-1", "social", "+4915112345678", "Hallo!", network="whatsapp")
assert receipts["retry"]["duplicate"] is True
# Two customers proven to be one person: merged into the older.
receipts["merge-a"] = message("fx-merge-1", "email", "dora@example.com", "first")
receipts["merge-b"] = message("fx-merge-2", "phone", "+14155550999", "second", network="sms",
                              identities=[{"kind": "email", "value": "dora@example.com"}])

conv = {k: r["conversation_id"] for k, r in receipts.items()}
customer = {k: r["customer_id"] for k, r in receipts.items()}

# Replies (outbound deliveries that stay pending: the adapter URL answers nothing), a note.
call("POST", "/v1/conversations/%s/messages" % conv["email"], {"text": "It ships today."})
call("POST", "/v1/conversations/%s/messages" % conv["whatsapp"], {"text": "Guten Tag!"})
# Transfers: to an agent with a note, and to a queue.
call("POST", "/v1/conversations/%s/transfer" % conv["whatsapp"],
     {"to_agent": "bob", "note": "speaks German"}, ok=(200, 409))
call("POST", "/v1/conversations/%s/transfer" % conv["telegram"], {"to_queue": "social"},
     ok=(200, 409))
# What a conversation needs: Spanish at billing 2.
call("PUT", "/v1/conversations/%s/requirements" % conv["spanish"],
     {"language": "es", "skills": {"billing": 2}})
# A call from a known customer: straight to a human; answered; hung up.
call("POST", "/v1/calls", {"external_id": "CAfx1", "from": "+14155550123", "to": "+18005550000"},
     token=ADAPTER)
call("POST", "/v1/calls/CAfx1/events", {"event": "answered"}, token=ADAPTER)
call("POST", "/v1/calls/CAfx1/events", {"event": "hung_up"}, token=ADAPTER)
# A call from a stranger: to the menu.
call("POST", "/v1/calls", {"external_id": "CAfx2", "from": "+442071838750", "to": "+18005550000"},
     token=ADAPTER)
# A complaint, a follow-up, a resolve with a rating, a later rating.
call("POST", "/v1/customers/%s/complaints" % customer["telegram"],
     {"text": "nobody answers", "channel": "social"}, token=ADAPTER)
call("PUT", "/v1/customers/%s/follow-up" % customer["email"], {"due_at": "2030-01-15T09:00:00Z"})
call("POST", "/v1/conversations/%s/resolve" % conv["sms"], {"csat": 5})
call("POST", "/v1/conversations/%s/rating" % conv["sms"], {"rating": 4}, token=ADAPTER,
     ok=(200, 201, 202, 204, 409))

# The sender's first attempt at each reply fails (nothing listens at the adapter's URL);
# the next is a day away, so what is read now is what is dumped.
time.sleep(2)

# What this release shows for everything it stored.
views = {"conversations": {}, "customers": {}, "agents": {}, "calls": {}, "deliveries": {}}
for c in sorted(set(conv.values())):
    view = call("GET", "/v1/conversations/" + c)
    views["conversations"][c] = view
    for m in view["messages"]:
        if m["direction"] == "out" and m.get("kind", "message") == "message":
            views["deliveries"][m["id"]] = call("GET", "/v1/deliveries/" + m["id"])
for c in sorted(set(customer.values())):
    views["customers"][c] = call("GET", "/v1/customers/" + c)
for a in call("GET", "/v1/agents"):
    views["agents"][a["id"]] = a
for sid in ["CAfx1", "CAfx2"]:
    views["calls"][sid] = call("GET", "/v1/calls/" + sid)
with open(OUT, "w") as f:
    json.dump(views, f, indent=1, sort_keys=True, ensure_ascii=False)
    f.write("\n")
print("%d conversations, %d customers -> %s" % (len(views["conversations"]),
                                                len(views["customers"]), OUT))
