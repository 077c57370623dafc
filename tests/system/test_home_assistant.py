"""Home Assistant MQTT discovery and availability against a real Mosquitto and
the real sim.

A paho client plays Home Assistant: it subscribes to the discovery prefix,
expands the abbreviated configs the way HA does, checks them against the
schema HA documents for each platform (switch, button, binary_sensor,
sensor; https://www.home-assistant.io/integrations/mqtt/ and the per-platform
pages), builds its entity list from them and drives every entity through its
own templates: command templates and press payloads go to the command topic,
value templates are rendered (jinja2, like HA) on what the device publishes.
"""
import json
import threading
import time
import uuid

import pytest
from jinja2 import Environment

from sim_harness import (CONTACTS, LOOSE_GUARDS, MOMENTARY, RELAYS, SLOW, EventLog, controller_config,
                         is_full_state, rig_factory)  # noqa: F401 (fixture)

# HA's documented abbreviations for the keys the device uses (and a few more).
ABBREVIATIONS = {
    "avty_t": "availability_topic", "cmd_t": "command_topic", "cmd_tpl": "command_template",
    "dev": "device", "dev_cla": "device_class", "ent_cat": "entity_category", "pl_on": "payload_on",
    "pl_off": "payload_off", "pl_prs": "payload_press", "pl_avail": "payload_available",
    "pl_not_avail": "payload_not_available", "stat_t": "state_topic", "stat_on": "state_on",
    "stat_off": "state_off", "stat_cla": "state_class", "uniq_id": "unique_id",
    "unit_of_meas": "unit_of_measurement", "val_tpl": "value_template", "obj_id": "object_id",
    "ic": "icon", "name": "name", "qos": "qos",
}
DEVICE_ABBREVIATIONS = {"ids": "identifiers", "mf": "manufacturer", "mdl": "model", "sw": "sw_version",
                        "name": "name", "hw": "hw_version", "cu": "configuration_url"}

COMMON = {"name", "unique_id", "availability_topic", "payload_available", "payload_not_available",
          "device", "qos", "entity_category", "icon", "enabled_by_default", "object_id",
          "json_attributes_topic", "json_attributes_template", "encoding"}
PLATFORMS = {
    "switch": {"required": {"command_topic"},
               "keys": {"command_topic", "command_template", "state_topic", "value_template",
                        "payload_on", "payload_off", "state_on", "state_off", "optimistic", "retain",
                        "device_class"}},
    "button": {"required": {"command_topic"},
               "keys": {"command_topic", "command_template", "payload_press", "retain", "device_class"}},
    "binary_sensor": {"required": {"state_topic"},
                      "keys": {"state_topic", "value_template", "payload_on", "payload_off",
                               "device_class", "expire_after", "force_update", "off_delay"}},
    "sensor": {"required": {"state_topic"},
               "keys": {"state_topic", "value_template", "unit_of_measurement", "device_class",
                        "state_class", "expire_after", "force_update", "suggested_display_precision"}},
}
BINARY_SENSOR_CLASSES = {"battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
                         "garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving",
                         "occupancy", "opening", "plug", "power", "presence", "problem", "running",
                         "safety", "smoke", "sound", "tamper", "update", "vibration", "window"}
# sensor device classes we use and the units HA accepts for them
SENSOR_UNITS = {"duration": {"d", "h", "min", "s", "ms"}, "signal_strength": {"dB", "dBm"},
                "temperature": {"\u00b0C", "\u00b0F", "K"}}
STATE_CLASSES = {"measurement", "total", "total_increasing"}
ENTITY_CATEGORIES = {"config", "diagnostic"}

JINJA = Environment()


def expand(cfg):
    """HA's expansion of an abbreviated discovery payload (keys, then '~')."""
    out = {}
    for k, v in cfg.items():
        if k == "~":
            continue
        assert k in ABBREVIATIONS or k in ABBREVIATIONS.values(), f"unknown key {k!r}"
        out[ABBREVIATIONS.get(k, k)] = v
    if "device" in out:
        out["device"] = {DEVICE_ABBREVIATIONS.get(k, k): v for k, v in out["device"].items()}
    base = cfg.get("~")
    if base is not None:
        for k, v in out.items():
            if k.endswith("_topic") and isinstance(v, str):
                if v.startswith("~"):
                    out[k] = base + v[1:]
                elif v.endswith("~"):
                    out[k] = v[:-1] + base
    return out


def validate(component, cfg):
    """The documented schema of each platform: keys, required keys, values."""
    spec = PLATFORMS[component]
    unknown = set(cfg) - COMMON - spec["keys"]
    assert not unknown, f"{component}: keys HA does not know: {unknown}"
    assert spec["required"] <= set(cfg), f"{component}: missing {spec['required'] - set(cfg)}"
    assert isinstance(cfg["unique_id"], str) and cfg["unique_id"]
    assert cfg.get("qos", 0) in (0, 1, 2)
    dev = cfg["device"]
    assert isinstance(dev["identifiers"], list) and dev["identifiers"], dev
    assert set(dev) <= set(DEVICE_ABBREVIATIONS.values()), dev
    for key in ("value_template", "command_template"):
        if key in cfg:
            JINJA.from_string(cfg[key])  # must compile
    if "entity_category" in cfg:
        assert cfg["entity_category"] in ENTITY_CATEGORIES
    if component == "binary_sensor" and "device_class" in cfg:
        assert cfg["device_class"] in BINARY_SENSOR_CLASSES, cfg
    if component == "sensor":
        if "device_class" in cfg:
            assert cfg["device_class"] in SENSOR_UNITS, cfg
            assert cfg.get("unit_of_measurement") in SENSOR_UNITS[cfg["device_class"]], cfg
        if "state_class" in cfg:
            assert cfg["state_class"] in STATE_CLASSES
    if component == "switch":
        assert cfg.get("device_class", "switch") in ("outlet", "switch")
    if component == "button":
        assert cfg.get("device_class", "restart") in ("identify", "restart", "update")


class HomeAssistant:
    """A paho client that listens on the discovery prefix like HA."""

    def __init__(self, port, prefix):
        import paho.mqtt.client as mqtt
        self.prefix = prefix
        self.messages = EventLog()
        self.client = mqtt.Client(client_id=f"ha-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv311)
        self._ready = threading.Event()
        self._subs = 0
        self._want = 0

        def on_connect(client, userdata, flags, rc):
            client.subscribe(f"{prefix}/#", qos=1)

        def on_subscribe(*a):
            self._subs += 1
            if self._subs >= 1:
                self._ready.set()

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = lambda c, u, m: self.messages.append(
            {"topic": m.topic, "payload": m.payload, "retain": m.retain})
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        assert self._ready.wait(10), "HA client could not subscribe"

    def subscribe(self, topic):
        start = self.messages.mark()
        result, mid = self.client.subscribe(topic, qos=1)
        assert result == 0
        time.sleep(0.2)
        return start

    def configs(self, count, timeout=10, start=0):
        got = self.messages.wait_count(lambda m: m["topic"].endswith("/config") and m["payload"], count,
                                       timeout, start)
        latest = {}
        for m in got:
            latest[m["topic"]] = m
        return latest

    def publish(self, topic, payload, retain=False):
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(10)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def retained(port, topic_filter, wait=1.0):
    """What a fresh subscriber gets as retained messages: {topic: payload}."""
    import paho.mqtt.client as mqtt
    got = {}
    done = threading.Event()
    c = mqtt.Client(client_id=f"look-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv311)
    c.on_connect = lambda cl, u, f, rc: cl.subscribe(topic_filter, qos=1)
    c.on_subscribe = lambda *a: done.set()
    c.on_message = lambda cl, u, m: got.__setitem__(m.topic, m.payload) if m.retain else None
    c.connect("127.0.0.1", port, keepalive=30)
    c.loop_start()
    assert done.wait(10)
    time.sleep(wait * SLOW)
    c.disconnect()
    c.loop_stop()
    return got


def ha_config(prefix, **extra):
    cfg = controller_config(pulse_ms=300, guards=LOOSE_GUARDS, extra={
        "homeassistant": {"discovery": True, "discovery_prefix": prefix}})
    cfg["contacts"][0]["device_class"] = "door"
    cfg["contacts"][1]["device_class"] = "garage_door"
    for k, v in extra.items():
        cfg[k] = v
    return cfg


@pytest.fixture
def prefix():
    return f"ha{uuid.uuid4().hex[:8]}"


@pytest.fixture
def ha_clients():
    made = []
    yield made
    for c in made:
        c.close()


def render(template, payload):
    try:
        value_json = json.loads(payload)
    except ValueError:
        value_json = None
    return JINJA.from_string(template).render(value_json=value_json, value=payload).strip()


def entity_state(ent, messages):
    """The entity's state after the messages on its state topic, as HA computes it:
    an empty render is ignored, otherwise it is compared with state_on/payload_on."""
    state = None
    for m in messages:
        text = render(ent["value_template"], m)
        if text == "":
            continue
        state = text
    return state


def test_discovery_end_to_end(broker, rig_factory, prefix, ha_clients):
    ha = HomeAssistant(broker.port, prefix)
    ha_clients.append(ha)
    rig = rig_factory(broker, config=ha_config(prefix), start=False)
    rig.start()
    node = rig.sim.client_id.replace(".", "_")
    entities = len(RELAYS) + len(MOMENTARY) + len(CONTACTS) + 4
    found = ha.configs(entities)
    assert len(found) == entities, sorted(found)
    topic = rig.topic
    status_topic = topic + "/status"
    by_component = {}
    ids = set()
    full_devices = []
    for t, m in found.items():
        parts = t.split("/")
        assert len(parts) == 5 and parts[0] == prefix and parts[2] == node and parts[4] == "config", t
        component, object_id = parts[1], parts[3]
        raw = json.loads(m["payload"])
        assert len(m["payload"]) <= 768
        cfg = expand(raw)
        validate(component, cfg)
        assert cfg["unique_id"] == f"{node}_{object_id}"
        assert cfg["unique_id"] not in ids
        ids.add(cfg["unique_id"])
        assert cfg["availability_topic"] == status_topic
        assert cfg["device"]["identifiers"] == [node]
        # the full device block in one config (the first), the identifiers in the others
        if "name" in cfg["device"]:
            assert cfg["device"]["name"] == rig.sim.client_id
            full_devices.append(t)
        else:
            assert cfg["device"] == {"identifiers": [node]}
        for key in ("state_topic", "command_topic"):
            if key in cfg:
                assert cfg[key] == topic, (key, cfg)
        by_component.setdefault(component, {})[object_id] = cfg
    assert len(full_devices) == 1, full_devices
    assert full_devices[0] == ha.messages.items()[0]["topic"], "the full device block comes first"
    assert set(by_component["switch"]) == {f"gp{p}" for p in RELAYS}
    assert set(by_component["button"]) == {f"gp{p}" for p in MOMENTARY}
    assert set(by_component["binary_sensor"]) == {f"gp{p}" for p in CONTACTS}
    assert set(by_component["sensor"]) == {"uptime", "outages", "rssi", "temperature"}
    assert by_component["binary_sensor"]["gp0"]["device_class"] == "door"
    assert by_component["binary_sensor"]["gp1"]["device_class"] == "garage_door"
    assert "device_class" not in by_component["binary_sensor"]["gp2"]
    for cfg in by_component["sensor"].values():
        assert cfg["entity_category"] == "diagnostic"

    # The configs are retained (a Home Assistant started later finds them).
    kept = retained(broker.port, f"{prefix}/#")
    assert set(found) <= set(kept)
    assert kept.get(status_topic) is None or True
    assert retained(broker.port, status_topic).get(status_topic) == b"online"

    # HA's view of the topic: every device publication, rendered per entity.
    state_log = EventLog()
    rig.phone.client.message_callback_add(topic, lambda c, u, m: state_log.append(m.payload))
    rig.settle()
    board = rig.board

    def wait_entity(ent, want, timeout=5):
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            if entity_state(ent, state_log.items()) == want:
                return
            time.sleep(0.05)
        raise AssertionError(f"entity state {entity_state(ent, state_log.items())!r}, want {want!r}")

    # switches: command template with payload_on / payload_off
    for obj, ent in sorted(by_component["switch"].items()):
        pin = int(obj[2:])
        for value, on in ((ent["payload_on"], True), (ent["payload_off"], False)):
            mark = board.events.mark()
            cmd = JINJA.from_string(ent["command_template"]).render(value=value)
            ha.publish(ent["command_topic"], cmd)
            board.wait_output(pin, on, 5, mark)
            # HA's default state_on / state_off: payload_on / payload_off
            wait_entity(ent, ent.get("state_on", ent["payload_on"]) if on
                        else ent.get("state_off", ent["payload_off"]))
    # buttons: the press payload pulses the relay
    for obj, ent in sorted(by_component["button"].items()):
        pin = int(obj[2:])
        mark = board.events.mark()
        ha.publish(ent["command_topic"], ent["payload_press"])
        board.wait_output(pin, True, 5, mark)
        board.wait_output(pin, False, 5, mark)
    # binary sensors: a closed contact is payload_on
    for obj, ent in sorted(by_component["binary_sensor"].items()):
        pin = int(obj[2:])
        board.contact(pin, True)
        wait_entity(ent, ent["payload_on"])
        board.contact(pin, False)
        wait_entity(ent, ent["payload_off"])
    # diagnostic sensors: values from the stats the device publishes after connecting
    rig.phone.send({"CMD": "stats"})
    time.sleep(0.3)
    uptime = entity_state(by_component["sensor"]["uptime"], state_log.items())
    assert uptime is not None and int(uptime) >= 0
    assert int(entity_state(by_component["sensor"]["outages"], state_log.items())) == 0
    float(entity_state(by_component["sensor"]["temperature"], state_log.items()))
    rssi = entity_state(by_component["sensor"]["rssi"], state_log.items())
    assert rssi == "None" or int(rssi) < 0  # "None": unknown in HA (the sim has no WiFi)


def test_birth_message_republishes_state(broker, rig_factory, prefix, ha_clients):
    ha = HomeAssistant(broker.port, prefix)
    ha_clients.append(ha)
    rig = rig_factory(broker, config=ha_config(prefix))
    mark = rig.phone.mark()
    ha.publish(f"{prefix}/status", "online")
    rig.phone.wait_device(is_full_state, 5, mark, what="full state after HA's birth")
    rig.phone.wait_device(lambda j: "UPTIME_S" in j, 5, mark, what="stats after HA's birth")
    # anything else on the birth topic changes nothing
    mark = rig.phone.mark()
    ha.publish(f"{prefix}/status", "offline")
    time.sleep(0.5 * SLOW)
    assert rig.phone.device_msgs(mark) == []


def test_removed_pin_removes_its_entity(broker, rig_factory, prefix, ha_clients):
    ha = HomeAssistant(broker.port, prefix)
    ha_clients.append(ha)
    rig = rig_factory(broker, config=ha_config(prefix))
    node = rig.sim.client_id
    ha.configs(12)
    gone = f"{prefix}/switch/{node}/gp17/config"
    assert gone in retained(broker.port, f"{prefix}/#")
    rig.sim.stop()
    # GP17 leaves the config; GP19 becomes a plain relay (button -> switch)
    rig.sim.config["relays"] = [{"pin": 16}, {"pin": 19}]
    rig.sim.config["momentary"] = [{"pin": 18, "pulse_ms": 300}]
    mark = ha.messages.mark()
    rig.sim.start()
    ha.messages.wait(lambda m: m["topic"] == gone and m["payload"] == b"", 10, mark,
                     what="empty retained config for GP17")
    time.sleep(0.5 * SLOW)
    kept = retained(broker.port, f"{prefix}/#")
    assert gone not in kept
    assert f"{prefix}/button/{node}/gp19/config" not in kept
    assert f"{prefix}/switch/{node}/gp19/config" in kept
    assert f"{prefix}/switch/{node}/gp16/config" in kept
    assert f"{prefix}/button/{node}/gp18/config" in kept


def test_discovery_off_by_default(broker, rig_factory, prefix):
    rig = rig_factory(broker)
    time.sleep(0.5 * SLOW)
    assert retained(broker.port, "homeassistant/+/" + rig.sim.client_id + "/+/config", 0.5) == {}


# ---- availability -----------------------------------------------------------

def test_availability_online_will_and_clean_stop(broker, rig_factory):
    rig = rig_factory(broker)
    status = rig.topic + "/status"
    assert retained(broker.port, status) == {status: b"online"}
    # a power cut: the broker publishes the will, retained
    watcher = HomeAssistant(broker.port, status)
    try:
        watcher.client.subscribe(status, qos=1)
        time.sleep(0.2)
        mark = watcher.messages.mark()
        rig.sim.kill()
        watcher.messages.wait(lambda m: m["topic"] == status and m["payload"] == b"offline", 10, mark,
                              what="the will 'offline'")
        assert retained(broker.port, status) == {status: b"offline"}
        # back: online again
        mark = watcher.messages.mark()
        rig.sim.start()
        watcher.messages.wait(lambda m: m["topic"] == status and m["payload"] == b"online", 10, mark,
                              what="'online' after the restart")
        # a clean stop: the device says offline itself (the broker drops the will)
        mark = watcher.messages.mark()
        rig.sim.stop()
        watcher.messages.wait(lambda m: m["topic"] == status and m["payload"] == b"offline", 10, mark,
                              what="'offline' before a clean disconnect")
        assert retained(broker.port, status) == {status: b"offline"}
        rig.sim.start()
    finally:
        watcher.close()


def test_availability_custom_topic_and_off(broker, rig_factory):
    cfg = controller_config(guards=LOOSE_GUARDS)
    custom = f"avail/{uuid.uuid4().hex[:8]}"
    cfg["mqtt"]["status_topic"] = custom
    rig = rig_factory(broker, config=cfg)
    assert retained(broker.port, custom) == {custom: b"online"}
    assert retained(broker.port, rig.topic + "/status", 0.3) == {}
    cfg2 = controller_config(guards=LOOSE_GUARDS)
    cfg2["mqtt"]["status_topic"] = ""
    rig2 = rig_factory(broker, config=cfg2)
    time.sleep(0.3 * SLOW)
    assert retained(broker.port, rig2.topic + "/#", 0.3) == {}
