"""The controller over TLS and with broker credentials, as with a cloud broker
(HiveMQ Cloud on 8883): the sim with --ca / --user / --password against the
TLS and password-file Mosquitto fixtures."""
from sim_harness import LOOSE_GUARDS, Phone, Sim, controller_config, is_full_state, unique


def round_trip(sim, phone):
    phone.wait_device(is_full_state, 5, what="full state")
    sim.settle_backlog()
    mark_b, mark_p = sim.board.events.mark(), phone.mark()
    phone.send({"GP16": 1})
    sim.board.wait_output(16, True, 5, mark_b)
    phone.wait_state(16, 1, 5, mark_p)


def test_controller_over_tls_with_ca_check(tmp_path, tls_broker, tls_ca):
    topic = unique("mtc/tls")
    phone = Phone(tls_broker.port, topic, host="localhost", tls_ca=tls_ca.ca_cert)
    sim = Sim(tmp_path, tls_broker.url, topic, config=controller_config(guards=LOOSE_GUARDS), ca=tls_ca.ca_cert)
    try:
        sim.start()
        round_trip(sim, phone)
    finally:
        sim.stop()
        phone.close()


def test_controller_refuses_a_broker_with_the_wrong_ca(tmp_path, tls_broker, other_ca):
    sim = Sim(tmp_path, tls_broker.url, unique("mtc/tls"), config=controller_config(), ca=other_ca.ca_cert)
    try:
        sim.start(wait_connected=False)
        failed = sim.board.wait_mqtt("connect_failed", 10)
        assert failed.get("reason"), failed
        assert not sim.board.stats()["mqtt_connected"]
    finally:
        sim.stop()


def test_controller_with_password(tmp_path, passwd_broker):
    topic = unique("mtc/pw")
    phone = Phone(passwd_broker.port, topic, user="panel", password="panel-password")
    sim = Sim(tmp_path, passwd_broker.url, topic, config=controller_config(guards=LOOSE_GUARDS),
              user=passwd_broker.user, password=passwd_broker.password)
    try:
        sim.start()
        round_trip(sim, phone)
    finally:
        sim.stop()
        phone.close()


def test_controller_with_wrong_password_backs_off_and_stays_up(tmp_path, passwd_broker):
    sim = Sim(tmp_path, passwd_broker.url, unique("mtc/pw"), config=controller_config(),
              user=passwd_broker.user, password="wrong", backoff_first_ms=50, backoff_max_ms=2000)
    try:
        sim.start(wait_connected=False)
        sim.board.wait_mqtt("connect_failed", 5)
        import time
        time.sleep(2.0)
        attempts = sim.board.stats()["mqtt_connect_failures"]
        # refused credentials: a slow retry, never a hammering loop
        assert 1 <= attempts <= 3, attempts
        assert sim.board.pins()  # the board still answers
    finally:
        sim.stop()
