"""NOTIFY as in the original: a change of a pin listed in the config's
"notify" also publishes {"NOTIFY":{"GPn":v},"TIME":...}; messages carrying the
original's own answer keys (NOTIFY, IP) without a command are ignored quietly.
Real Mosquitto, real sim."""
import time

from sim_harness import LOOSE_GUARDS, SLOW, controller_config, counter, is_error, rig_factory  # noqa: F401


def notify_config(pins):
    cfg = controller_config(pulse_ms=300, guards=LOOSE_GUARDS)
    cfg["notify"] = pins
    return cfg


def notices(rig, mark):
    return [j["NOTIFY"] for j in rig.phone.device_msgs(mark) if "NOTIFY" in j]


def test_listed_pins_publish_notify(broker, rig_factory):
    rig = rig_factory(broker, config=notify_config([1, "GP16", "GP18"]))
    mark = rig.phone.mark()
    # a listed contact
    rig.board.contact(1, True)
    rig.phone.wait_device(lambda j: j.get("NOTIFY") == {"GP1": 1}, 5, mark, what="NOTIFY GP1=1")
    # a listed relay, on and off
    rig.phone.send({"GP16": 1})
    rig.phone.wait_device(lambda j: j.get("NOTIFY") == {"GP16": 1}, 5, mark, what="NOTIFY GP16=1")
    # a listed momentary relay: the press and the end of the pulse
    rig.phone.send({"GP18": 1})
    rig.phone.wait_device(lambda j: j.get("NOTIFY") == {"GP18": 0}, 5, mark, what="NOTIFY GP18=0")
    # pins not listed: state only
    rig.phone.send({"GP17": 1})
    rig.board.contact(2, True)
    rig.phone.wait_state(2, 1, 5, mark)
    rig.phone.wait_state(17, 1, 5, mark)
    time.sleep(0.3 * SLOW)
    got = notices(rig, mark)
    assert {"GP18": 1} in got
    assert all(set(n) <= {"GP1", "GP16", "GP18"} for n in got), got
    # the state publication still carries the change (IoT MQTT Panel unchanged)
    assert any(j.get("GP1") == 1 for j in rig.phone.device_msgs(mark) if "NOTIFY" not in j)
    # a request that changes nothing notifies nothing
    mark = rig.phone.mark()
    rig.phone.send({"GP16": 1})
    rig.phone.wait_state(16, 1, 5, mark)
    time.sleep(0.3 * SLOW)
    assert notices(rig, mark) == []


def test_no_notify_without_the_key(broker, rig_factory):
    rig = rig_factory(broker, config=controller_config(guards=LOOSE_GUARDS))
    mark = rig.phone.mark()
    rig.board.contact(1, True)
    rig.phone.wait_state(1, 1, 5, mark)
    time.sleep(0.3 * SLOW)
    assert notices(rig, mark) == []


def test_answer_keys_of_an_older_device_are_ignored_quietly(broker, rig_factory):
    rig = rig_factory(broker, config=notify_config([1]))
    before = counter(rig.board.stats(), "errors")
    mark, mark_b = rig.phone.mark(), rig.board.events.mark()
    # what the original publishes (no TIME key in its messages)
    rig.phone.send({"NOTIFY": {"GP1": 1}})
    rig.phone.send({"IP": "20.114.152.56"})
    rig.phone.send({"NOTIFY": {"GP16": 1}, "GP16": 1})
    time.sleep(0.5 * SLOW)
    assert [j for j in rig.phone.device_msgs(mark) if is_error(j)] == []
    assert rig.board.outputs(16, mark_b) == []
    assert counter(rig.board.stats(), "errors") == before
    # a command is still a command
    rig.phone.send({"CMD": "refresh", "IP": "1.2.3.4"})
    rig.phone.wait_device(lambda j: "GP16" in j, 5, mark)
