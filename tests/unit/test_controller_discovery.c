/* Availability and Home Assistant discovery as the broker and HA see them:
 * the status word, one retained config per entity (checked key by key after
 * parsing), the order and the retries when the platform refuses, the birth
 * message, the removal of stale configs and hostile topics
 * (docs/protocol.md#home-assistant-discovery). Also the publication paths of
 * controller_publish.c the other tests do not reach (NOTIFY). */
#include "controller_fake.h"

#include "controller_internal.h"
#include "json.h"

#define NODE "mqtt-tiny-picow"
#define CFG_TOPIC(comp, obj) "homeassistant/" comp "/" NODE "/" obj "/config"

/* Log lines of the controller: how many warnings and the last line. */
static struct {
    size_t warnings;
    size_t errors;
    char last[160];
} LOG;

static void fake_log(void *ctx, controller_log_level level, const char *text)
{
    (void)ctx;
    if (level == CONTROLLER_LOG_WARN) LOG.warnings++;
    if (level == CONTROLLER_LOG_ERROR) LOG.errors++;
    snprintf(LOG.last, sizeof LOG.last, "%s", text);
}

/* The example board with discovery on, as in docs/protocol.md. */
static void ha_config(config *cfg)
{
    example_config(cfg);
    strcpy(cfg->mqtt.client_id, NODE);
    strcpy(cfg->mqtt.topic, "mqtt-tiny/home");
    strcpy(cfg->mqtt.status_topic, "mqtt-tiny/home/status");
    cfg->homeassistant.discovery = true;
    strcpy(cfg->homeassistant.discovery_prefix, "homeassistant");
    cfg->contacts[0].device_class = CONFIG_CLASS_DOOR;
}

/* start_at() with a platform that has publish_to (and log). */
static void start_ha(uint32_t now, bool with_publish_to)
{
    memset(&F, 0, sizeof F);
    memset(&LOG, 0, sizeof LOG);
    for (int i = 0; i < 32; i++) F.input[i] = true;
    F.ip_supported = true;
    F.sync_supported = true;
    F.clock_set = true;
    F.unix_s = 1795000000;
    F.now = now;
    controller_platform p = FAKE_PLATFORM;
    p.log = fake_log;
    if (with_publish_to) p.publish_to = fake_publish_to;
    assert_true(controller_init(&C, &CFG, &p, &F, now));
}

static int setup_ha(void **state)
{
    (void)state;
    ha_config(&CFG);
    start_ha(1000, true);
    return 0;
}

static void other(uint32_t now, const char *topic, size_t topic_len, const char *payload,
                  size_t len)
{
    F.now = now;
    controller_on_other_message(&C, now, topic, topic_len, payload, len);
}

/* A message as a broker delivers it: topic and payload without NUL. */
static void other_s(uint32_t now, const char *topic, const char *payload)
{
    other(now, topic, strlen(topic), payload, strlen(payload));
}

/* Index of the publish_to call on topic, -1 if none; asserts at most one. */
static int find_to(const char *topic)
{
    int found = -1;
    for (size_t i = 0; i < F.to_count; i++) {
        if (strcmp(F.to[i].topic, topic) == 0) {
            if (found >= 0) fail_msg("%s published twice", topic);
            found = (int)i;
        }
    }
    return found;
}

/* ---- a parsed config ---- */
typedef struct {
    const char *text;
    json_token tok[160];
    size_t count;
} parsed;

static void parse(parsed *p, const char *text)
{
    p->text = text;
    json_result r = json_parse(text, strlen(text), p->tok, 160);
    if (r.status != JSON_OK) fail_msg("not JSON (%s): %s", r.detail, text);
    p->count = r.count;
    assert_int_equal(p->tok[0].type, JSON_OBJECT);
    assert_int_equal(json_find_duplicate_key(text, p->tok, p->count), -1);
}

/* The config published on topic, parsed; it must be retained, QoS 1. */
static void config_on(parsed *p, const char *topic)
{
    int i = find_to(topic);
    if (i < 0) fail_msg("no config on %s", topic);
    assert_true(F.to[i].retain);
    assert_int_equal(F.to[i].qos, 1);
    parse(p, F.to[i].payload);
}

static int member(const parsed *p, size_t obj, const char *key)
{
    return json_object_get(p->text, p->tok, p->count, obj, key);
}

static void expect_str_in(const parsed *p, size_t obj, const char *key, const char *want)
{
    int i = member(p, obj, key);
    if (i < 0) fail_msg("no \"%s\" in %s", key, p->text);
    char got[CONTROLLER_OUT_SIZE];
    assert_int_equal(p->tok[i].type, JSON_STRING);
    assert_true(json_string_copy(p->text, &p->tok[i], got, sizeof got));
    if (strcmp(got, want) != 0) fail_msg("\"%s\": got \"%s\", want \"%s\"", key, got, want);
}

static void expect_str(const parsed *p, const char *key, const char *want)
{
    expect_str_in(p, 0, key, want);
}

static void expect_absent(const parsed *p, const char *key)
{
    if (member(p, 0, key) >= 0) fail_msg("unexpected \"%s\" in %s", key, p->text);
}

/* The keys every entity of this device shares. */
static void expect_common(const parsed *p, const char *object)
{
    expect_str(p, "~", "mqtt-tiny/home");
    char uniq[64];
    snprintf(uniq, sizeof uniq, "%s_%s", NODE, object);
    expect_str(p, "uniq_id", uniq);
    expect_str(p, "avty_t", "~/status");
    int q = member(p, 0, "qos");
    assert_true(q > 0);
    int64_t qos = 0;
    assert_true(json_number_int(p->text, &p->tok[q], &qos));
    assert_int_equal(qos, 1);
    int dev = member(p, 0, "dev");
    assert_true(dev > 0);
    assert_int_equal(p->tok[dev].type, JSON_OBJECT);
    int ids = member(p, (size_t)dev, "ids");
    assert_true(ids > 0);
    assert_int_equal(p->tok[ids].type, JSON_ARRAY);
    assert_int_equal(p->tok[ids].size, 1);
    int id0 = json_array_get(p->tok, p->count, (size_t)ids, 0);
    assert_true(json_string_equals(p->text, &p->tok[id0], NODE));
    /* The full device block only in the first config (GP0's here). */
    if (strcmp(object, "gp0") == 0) {
        expect_str_in(p, (size_t)dev, "name", NODE);
        expect_str_in(p, (size_t)dev, "mf", "MqttTinyController");
        expect_str_in(p, (size_t)dev, "mdl", "Pico W relay controller");
        expect_str_in(p, (size_t)dev, "sw", CONTROLLER_VERSION);
    } else {
        assert_int_equal(p->tok[dev].size, 1);
    }
}

/* HA's rendering of "{{ value }}" in a command template. */
static void render(const char *tpl, const char *value, char *out, size_t size)
{
    const char *at_v = strstr(tpl, "{{ value }}");
    assert_non_null(at_v);
    snprintf(out, size, "%.*s%s%s", (int)(at_v - tpl), tpl, value, at_v + strlen("{{ value }}"));
}

static void copy_str(const parsed *p, const char *key, char *out, size_t size)
{
    int i = member(p, 0, key);
    assert_true(i > 0);
    assert_true(json_string_copy(p->text, &p->tok[i], out, size));
}

/* ---- connect: status, configs, state, stats ---- */

static void test_connect_publishes_status_configs_then_state(void **state)
{
    (void)state;
    connect_at(2000);
    static const char *const order[] = {
        "mqtt-tiny/home/status",
        CFG_TOPIC("binary_sensor", "gp0"), CFG_TOPIC("binary_sensor", "gp1"),
        CFG_TOPIC("binary_sensor", "gp2"), CFG_TOPIC("binary_sensor", "gp3"),
        CFG_TOPIC("switch", "gp16"),       CFG_TOPIC("switch", "gp17"),
        CFG_TOPIC("button", "gp18"),       CFG_TOPIC("button", "gp19"),
        CFG_TOPIC("sensor", "outages"),    CFG_TOPIC("sensor", "uptime"),
        CFG_TOPIC("sensor", "rssi"),       CFG_TOPIC("sensor", "temperature"),
    };
    size_t n = sizeof order / sizeof order[0];
    assert_int_equal(F.to_count, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(F.to[i].topic, order[i]);
        assert_true(F.to[i].retain);
        assert_int_equal(F.to[i].qos, 1);
        assert_int_equal(F.to[i].after_pubs, 0); /* all before the full state */
    }
    assert_string_equal(F.to[0].payload, "online");
    /* Then the full state and the stats message (the diagnostic sensors' values). */
    assert_int_equal(F.pub_count, 2);
    assert_non_null(strstr(F.pubs[0], "{\"GP0\":0,\"GP1\":0,"));
    assert_non_null(strstr(F.pubs[1], "\"STATS\":"));
    /* Outside the publish guard: only the two publications count. */
    assert_int_equal(C.counters.publishes, 2);
}

static void test_switch_config_commands_the_relay(void **state)
{
    (void)state;
    connect_at(2000);
    parsed p;
    config_on(&p, CFG_TOPIC("switch", "gp16"));
    expect_common(&p, "gp16");
    expect_str(&p, "name", "GP16");
    expect_str(&p, "stat_t", "~");
    expect_str(&p, "cmd_t", "~");
    expect_str(&p, "val_tpl", "{{ value_json.GP16 | default('') }}");
    expect_str(&p, "cmd_tpl", "{\"GP16\":{{ value }}}");
    expect_str(&p, "pl_on", "1");
    expect_str(&p, "pl_off", "0");
    expect_absent(&p, "stat_on"); /* HA's default: pl_on */
    expect_absent(&p, "stat_off");
    expect_absent(&p, "dev_cla");
    expect_absent(&p, "ent_cat");
    expect_absent(&p, "pl_prs");
    /* What HA sends when the switch is turned on, then off. */
    char tpl[64], cmd[64];
    copy_str(&p, "cmd_tpl", tpl, sizeof tpl);
    render(tpl, "1", cmd, sizeof cmd);
    msg(5000, cmd);
    assert_true(on(16));
    expect_last("{\"GP16\":1,"); /* the key val_tpl reads */
    render(tpl, "0", cmd, sizeof cmd);
    msg(8000, cmd);
    assert_false(on(16));
}

static void test_button_config_presses_the_momentary_relay(void **state)
{
    (void)state;
    connect_at(2000);
    parsed p;
    config_on(&p, CFG_TOPIC("button", "gp18"));
    expect_common(&p, "gp18");
    expect_str(&p, "name", "GP18");
    expect_str(&p, "cmd_t", "~");
    expect_str(&p, "pl_prs", "{\"GP18\":1}");
    /* A button has no state and no template. */
    expect_absent(&p, "stat_t");
    expect_absent(&p, "val_tpl");
    expect_absent(&p, "cmd_tpl");
    expect_absent(&p, "pl_on");
    char press[32];
    copy_str(&p, "pl_prs", press, sizeof press);
    msg(5000, press);
    assert_true(on(18));
    at(7000);
    assert_false(on(18));
}

static void test_binary_sensor_configs(void **state)
{
    (void)state;
    connect_at(2000);
    parsed p;
    config_on(&p, CFG_TOPIC("binary_sensor", "gp0"));
    expect_common(&p, "gp0");
    expect_str(&p, "name", "GP0");
    expect_str(&p, "stat_t", "~");
    expect_str(&p, "val_tpl", "{{ value_json.GP0 | default('') }}");
    expect_str(&p, "pl_on", "1");
    expect_str(&p, "pl_off", "0");
    expect_str(&p, "dev_cla", "door");
    expect_absent(&p, "cmd_t");
    expect_absent(&p, "cmd_tpl");
    /* No device_class configured: none announced. */
    config_on(&p, CFG_TOPIC("binary_sensor", "gp1"));
    expect_common(&p, "gp1");
    expect_absent(&p, "dev_cla");
}

static void test_diagnostic_sensor_configs(void **state)
{
    (void)state;
    connect_at(2000);
    const char *stats = F.pubs[1];
    static const struct {
        const char *object, *name, *key, *unit, *cls, *state_class;
    } want[] = {
        {"uptime", "Uptime", "UPTIME_S", "s", "duration", "total_increasing"},
        {"outages", "Outages", "OUTAGES", NULL, NULL, "total_increasing"},
        {"rssi", "WiFi signal", "RSSI", "dBm", "signal_strength", "measurement"},
        {"temperature", "Temperature", "TEMP_C", "\xc2\xb0" "C", "temperature", "measurement"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char topic[128], tpl[96], key[32];
        snprintf(topic, sizeof topic, "homeassistant/sensor/" NODE "/%s/config", want[i].object);
        parsed p;
        config_on(&p, topic);
        expect_common(&p, want[i].object);
        expect_str(&p, "name", want[i].name);
        expect_str(&p, "stat_t", "~");
        snprintf(tpl, sizeof tpl, "{{ value_json.%s | default('') }}", want[i].key);
        expect_str(&p, "val_tpl", tpl);
        expect_str(&p, "stat_cla", want[i].state_class);
        expect_str(&p, "ent_cat", "diagnostic");
        if (want[i].unit != NULL) {
            expect_str(&p, "unit_of_meas", want[i].unit);
        } else {
            expect_absent(&p, "unit_of_meas");
        }
        if (want[i].cls != NULL) {
            expect_str(&p, "dev_cla", want[i].cls);
        } else {
            expect_absent(&p, "dev_cla");
        }
        expect_absent(&p, "cmd_t");
        /* The value the template reads is in the stats message. */
        snprintf(key, sizeof key, "\"%s\":", want[i].key);
        if (strstr(stats, key) == NULL) fail_msg("%s not in %s", key, stats);
    }
}

static void test_availability_topic_forms(void **state)
{
    (void)state;
    parsed p;
    /* Outside the topic: named in full. */
    strcpy(CFG.mqtt.status_topic, "site/avail");
    start_ha(0, true);
    connect_at(10);
    assert_string_equal(F.to[0].topic, "site/avail");
    config_on(&p, CFG_TOPIC("switch", "gp17"));
    expect_str(&p, "avty_t", "site/avail");
    /* Any topic under the topic: "~" and the rest (HA puts the topic for "~"). */
    strcpy(CFG.mqtt.status_topic, "mqtt-tiny/home2/status");
    start_ha(0, true);
    connect_at(10);
    config_on(&p, CFG_TOPIC("switch", "gp17"));
    expect_str(&p, "avty_t", "~2/status");
    /* ... but not one ending in '~' (HA would replace that one too): in full. */
    strcpy(CFG.mqtt.status_topic, "mqtt-tiny/home/a~");
    start_ha(0, true);
    connect_at(10);
    config_on(&p, CFG_TOPIC("switch", "gp17"));
    expect_str(&p, "avty_t", "mqtt-tiny/home/a~");
    /* Availability off: no status word and no avty_t, the configs still. */
    CFG.mqtt.status_topic[0] = '\0';
    start_ha(0, true);
    connect_at(10);
    assert_int_equal(F.to_count, 12);
    config_on(&p, CFG_TOPIC("switch", "gp17"));
    expect_absent(&p, "avty_t");
    expect_str(&p, "uniq_id", NODE "_gp17");
}

static void test_node_id_and_prefix(void **state)
{
    (void)state;
    strcpy(CFG.mqtt.client_id, "Pico W.1/x+#~`@:[");
    strcpy(CFG.homeassistant.discovery_prefix, "ha/test-1");
    char birth[CONTROLLER_HA_TOPIC_SIZE], filter[CONTROLLER_HA_TOPIC_SIZE];
    assert_true(controller_ha_topics(&CFG, birth, filter));
    assert_string_equal(birth, "ha/test-1/status");
    assert_string_equal(filter, "ha/test-1/+/Pico_W_1_x_______/+/config");
    start_ha(0, true);
    connect_at(10);
    parsed p;
    config_on(&p, "ha/test-1/switch/Pico_W_1_x_______/gp16/config");
    expect_str(&p, "uniq_id", "Pico_W_1_x________gp16");
    config_on(&p, "ha/test-1/binary_sensor/Pico_W_1_x_______/gp0/config"); /* the first */
    int dev = member(&p, 0, "dev");
    expect_str_in(&p, (size_t)dev, "name", "Pico W.1/x+#~`@:["); /* as configured */
    /* The birth message on this prefix, not on the default one. */
    size_t pubs = F.pub_count;
    other_s(100, "homeassistant/status", "online");
    assert_int_equal(F.pub_count, pubs);
    other_s(200, "ha/test-1/status", "online");
    assert_int_equal(F.pub_count, pubs + 2);
    /* Discovery off, or no config: no topics. */
    CFG.homeassistant.discovery = false;
    strcpy(birth, "x");
    strcpy(filter, "x");
    assert_true(controller_ha_topics(&CFG, birth, filter));
    assert_string_equal(birth, "");
    assert_string_equal(filter, "");
    strcpy(birth, "x");
    assert_true(controller_ha_topics(NULL, birth, filter));
    assert_string_equal(birth, "");
}

/* The longest client id (64 bytes) is the node id in full. */
static void test_longest_client_id(void **state)
{
    (void)state;
    char id[CONFIG_NAME_SIZE];
    memset(id, 'a', CONFIG_NAME_SIZE - 1);
    id[CONFIG_NAME_SIZE - 1] = '\0';
    memcpy(CFG.mqtt.client_id, id, sizeof id);
    char birth[CONTROLLER_HA_TOPIC_SIZE], filter[CONTROLLER_HA_TOPIC_SIZE];
    assert_true(controller_ha_topics(&CFG, birth, filter));
    char want[CONTROLLER_HA_TOPIC_SIZE];
    snprintf(want, sizeof want, "homeassistant/+/%s/+/config", id);
    assert_string_equal(filter, want);
    start_ha(0, true);
    connect_at(10);
    assert_int_equal(F.to_count, 13);
    char topic[FAKE_TO_TOPIC_SIZE], uniq[96];
    snprintf(topic, sizeof topic, "homeassistant/switch/%s/gp16/config", id);
    snprintf(uniq, sizeof uniq, "%s_gp16", id);
    parsed p;
    config_on(&p, topic);
    expect_str(&p, "uniq_id", uniq);
    /* Its own retained config is known; another object under it is removed. */
    other_s(100, topic, F.to[find_to(topic)].payload);
    assert_int_equal(F.to_count, 13);
    snprintf(topic, sizeof topic, "homeassistant/switch/%s/gp20/config", id);
    other_s(200, topic, "{}");
    assert_int_equal(F.to_count, 14);
    assert_string_equal(F.to[13].topic, topic);
    assert_int_equal(F.to[13].len, 0);
}

/* The longest device class name (binary_sensor device_class). */
static uint8_t longest_class(void)
{
    uint8_t best = CONFIG_CLASS_NONE;
    for (uint8_t k = 1; k < CONFIG_CLASS_COUNT; k++) {
        if (strlen(config_device_class_name(k)) > strlen(config_device_class_name(best))) best = k;
    }
    return best;
}

/* The worst case the parser accepts: the longest topic, client id, a status
 * topic of its own (not under the topic, so named in full), the longest
 * prefix, every pin kind on two-digit GPIOs, the longest device class, and
 * first the kind given (the first config carries the full device block).
 * Only characters JSON writes as they are: the parser refuses the others in
 * these fields when discovery is on (test_config.c). */
static void worst_config(controller_pin_kind first)
{
    ha_config(&CFG);
    memset(CFG.mqtt.topic, 't', CONFIG_TOPIC_SIZE - 1);
    CFG.mqtt.topic[CONFIG_TOPIC_SIZE - 1] = '\0';
    memset(CFG.mqtt.client_id, 'c', CONFIG_NAME_SIZE - 1);
    CFG.mqtt.client_id[CONFIG_NAME_SIZE - 1] = '\0';
    memset(CFG.mqtt.status_topic, 's', sizeof CFG.mqtt.status_topic - 1);
    CFG.mqtt.status_topic[sizeof CFG.mqtt.status_topic - 1] = '\0';
    memset(CFG.homeassistant.discovery_prefix, 'p', CONFIG_PREFIX_SIZE - 1);
    CFG.homeassistant.discovery_prefix[CONFIG_PREFIX_SIZE - 1] = '\0';
    uint8_t lo = 10, hi = 20;
    CFG.relay_count = 1;
    CFG.relays[0] = (config_relay){.pin = first == CONTROLLER_PIN_RELAY ? lo : hi, .active_low = true};
    CFG.momentary_count = 1;
    CFG.momentary[0] = (config_momentary){
        .pin = first == CONTROLLER_PIN_MOMENTARY ? lo : (uint8_t)(hi + 1), .active_low = true,
        .pulse_ms = 2000};
    CFG.contact_count = 1;
    CFG.contacts[0] = (config_contact){.pin = first == CONTROLLER_PIN_CONTACT ? lo : (uint8_t)(hi + 2),
                                       .pull = CONFIG_PULL_UP, .normally_open = true,
                                       .debounce_ms = 50, .device_class = longest_class()};
}

/* The keys HA needs in every config, and the device block: in full in the
 * first config after a connect, its identifiers alone in the others. */
static void expect_needed_keys(const parsed *p, size_t i, const char *component)
{
    assert_true(member(p, 0, "~") > 0);
    assert_true(member(p, 0, "uniq_id") > 0);
    assert_true(member(p, 0, "name") > 0);
    assert_true(member(p, 0, "avty_t") > 0);
    if (strcmp(component, "button") == 0) {
        assert_true(member(p, 0, "cmd_t") > 0);
        assert_true(member(p, 0, "pl_prs") > 0);
    } else {
        assert_true(member(p, 0, "stat_t") > 0);
        assert_true(member(p, 0, "val_tpl") > 0);
    }
    if (strcmp(component, "switch") == 0) {
        assert_true(member(p, 0, "cmd_t") > 0);
        assert_true(member(p, 0, "cmd_tpl") > 0);
    }
    if (strcmp(component, "binary_sensor") == 0) {
        expect_str(p, "dev_cla", config_device_class_name(longest_class()));
    }
    int dev = member(p, 0, "dev");
    assert_true(dev > 0);
    assert_true(member(p, (size_t)dev, "ids") > 0);
    if (i == 0) {
        expect_str_in(p, (size_t)dev, "name", CFG.mqtt.client_id);
        expect_str_in(p, (size_t)dev, "mf", "MqttTinyController");
        expect_str_in(p, (size_t)dev, "sw", CONTROLLER_VERSION);
    } else {
        assert_int_equal(p->tok[dev].size, 1);
    }
}

/* Every entity's config fits the output buffer in the worst case the
 * parser accepts, with any pin kind first; each is sent, parses and holds
 * the keys HA needs. Prints the largest size. */
static void test_worst_case_configs_fit(void **state)
{
    (void)state;
    static const controller_pin_kind kinds[] = {CONTROLLER_PIN_RELAY, CONTROLLER_PIN_MOMENTARY,
                                                CONTROLLER_PIN_CONTACT};
    size_t largest = 0;
    for (size_t k = 0; k <= 3; k++) { /* k == 3: no pins, a sensor first */
        worst_config(kinds[k % 3]);
        if (k == 3) CFG.relay_count = CFG.momentary_count = CFG.contact_count = 0;
        start_ha(0, true);
        connect_at(10);
        assert_int_equal(LOG.errors, 0);
        assert_int_equal(F.to_count, 1 + (k == 3 ? 4 : 7)); /* status, pins, 4 sensors */
        for (size_t i = 1; i < F.to_count; i++) {
            char component[16];
            const char *t = F.to[i].topic + strlen(CFG.homeassistant.discovery_prefix) + 1;
            size_t n = (size_t)(strchr(t, '/') - t);
            assert_true(n < sizeof component);
            memcpy(component, t, n);
            component[n] = '\0';
            assert_true(F.to[i].len < CONTROLLER_OUT_SIZE);
            if (F.to[i].len > largest) largest = F.to[i].len;
            parsed p;
            parse(&p, F.to[i].payload);
            expect_needed_keys(&p, i - 1, component);
        }
        assert_false(C.discovery_pending);
        assert_int_equal(F.pub_count, 2); /* the state and stats follow */
    }
    printf("largest worst-case discovery config: %zu of %d bytes\n", largest, CONTROLLER_OUT_SIZE);
}

/* ---- refusals: one config per step, nothing lost or duplicated ---- */

static void test_refused_configs_retried_one_per_step(void **state)
{
    (void)state;
    F.to_limited = true;
    F.to_budget = 1; /* the status word, then the platform's queue is full */
    connect_at(1000);
    assert_int_equal(F.to_count, 1);
    assert_string_equal(F.to[0].topic, "mqtt-tiny/home/status");
    assert_int_equal(F.to_refused, 1);
    assert_int_equal(F.pub_count, 0); /* the state waits behind the configs */
    assert_int_equal(controller_next_deadline(&C, 1000), CONTROLLER_PUBLISH_RETRY_MS);
    at(1050); /* before the retry time: not even tried */
    assert_int_equal(F.to_refused, 1);
    uint32_t t = 1000;
    for (size_t k = 1; k <= 12; k++) {
        t += CONTROLLER_PUBLISH_RETRY_MS;
        F.to_budget = 1;
        at(t);
        assert_int_equal(F.to_count, 1 + k);
        if (k < 12) assert_int_equal(F.pub_count, 0);
    }
    /* Each config once, in order; then the state and the stats. */
    assert_string_equal(F.to[1].topic, CFG_TOPIC("binary_sensor", "gp0"));
    assert_string_equal(F.to[5].topic, CFG_TOPIC("switch", "gp16"));
    assert_string_equal(F.to[12].topic, CFG_TOPIC("sensor", "temperature"));
    for (size_t i = 0; i < F.to_count; i++) (void)find_to(F.to[i].topic); /* no duplicate */
    assert_int_equal(F.pub_count, 2);
    assert_int_equal(C.counters.publish_failures, 12);
    /* Nothing more later. */
    F.to_limited = false;
    at(t + 10000);
    assert_int_equal(F.to_count, 13);
}

static void test_refused_status_retried(void **state)
{
    (void)state;
    F.to_limited = true; /* budget 0: everything refused */
    connect_at(1000);
    assert_int_equal(F.to_count, 0);
    assert_int_equal(F.pub_count, 0);
    F.to_limited = false;
    at(1100);
    assert_int_equal(F.to_count, 13);
    assert_string_equal(F.to[0].payload, "online");
    assert_int_equal(F.pub_count, 2);
}

/* A connection lost half-way: the next one starts again from the status. */
static void test_reconnect_publishes_all_again(void **state)
{
    (void)state;
    F.to_limited = true;
    F.to_budget = 4;
    connect_at(1000);
    assert_int_equal(F.to_count, 4);
    controller_on_connection(&C, 1050, false);
    F.to_limited = false;
    at(2000); /* not connected: nothing */
    assert_int_equal(F.to_count, 4);
    connect_at(3000);
    assert_int_equal(F.to_count, 4 + 13);
    assert_string_equal(F.to[4].topic, "mqtt-tiny/home/status");
    assert_string_equal(F.to[5].topic, CFG_TOPIC("binary_sensor", "gp0"));
    assert_string_equal(F.to[16].topic, CFG_TOPIC("sensor", "temperature"));
    assert_int_equal(F.pub_count, 2);
}

/* ---- birth message ---- */

static void test_birth_message_republishes_state(void **state)
{
    (void)state;
    connect_at(1000);
    msg(2000, "{\"GP16\":1}");
    size_t pubs = F.pub_count, tos = F.to_count;
    other_s(3000, "homeassistant/status", "online");
    assert_int_equal(F.pub_count, pubs + 2);
    assert_non_null(strstr(F.pubs[pubs], "{\"GP0\":0,\"GP1\":0,\"GP2\":0,\"GP3\":0,\"GP16\":1,"));
    assert_non_null(strstr(F.pubs[pubs + 1], "\"STATS\":"));
    assert_int_equal(F.to_count, tos); /* the configs are retained: not again */
    /* Other words, or near misses, change nothing. */
    other_s(4000, "homeassistant/status", "offline");
    other_s(4000, "homeassistant/status", "ONLINE");
    other_s(4000, "homeassistant/status", "online ");
    other_s(4000, "homeassistant/status", "");
    other(4000, "homeassistant/status", 20, "online\0x", 8);
    other(4000, "homeassistant/status\0", 21, "online", 6);
    other_s(4000, "homeassistant/status/x", "online");
    other_s(4000, "homeassistant/statu", "online");
    other_s(4000, "homeassistant2/status", "online");
    other_s(4000, "mqtt-tiny/home/status", "online");
    other(4000, "homeassistant/status", 20, NULL, 6);
    other(4000, NULL, 20, "online", 6);
    assert_int_equal(F.pub_count, pubs + 2);
    assert_int_equal(F.to_count, tos);
}

/* ---- removal of stale entities ---- */

static void test_stale_configs_removed(void **state)
{
    (void)state;
    connect_at(1000);
    size_t tos = F.to_count, pubs = F.pub_count;
    /* A pin the configuration no longer has. */
    other_s(2000, CFG_TOPIC("switch", "gp20"), "{\"name\":\"GP20\"}");
    assert_int_equal(F.to_count, tos + 1);
    assert_string_equal(F.to[tos].topic, CFG_TOPIC("switch", "gp20"));
    assert_int_equal(F.to[tos].len, 0);
    assert_true(F.to[tos].retain);
    assert_int_equal(F.to[tos].qos, 1);
    /* GP18 was a relay and is a momentary relay now: the switch goes, the button stays. */
    other_s(2100, CFG_TOPIC("switch", "gp18"), "{}");
    assert_int_equal(F.to_count, tos + 2);
    assert_string_equal(F.to[tos + 1].topic, CFG_TOPIC("switch", "gp18"));
    /* A diagnostic this version does not have. */
    other_s(2200, CFG_TOPIC("sensor", "voltage"), "{}");
    assert_int_equal(F.to_count, tos + 3);
    /* The empty config that removal publishes comes back: nothing more. */
    other_s(2300, CFG_TOPIC("switch", "gp20"), "");
    assert_int_equal(F.to_count, tos + 3);
    /* Configured entities are left alone, whatever the payload says. */
    static const char *const kept[] = {
        CFG_TOPIC("switch", "gp16"),         CFG_TOPIC("switch", "gp17"),
        CFG_TOPIC("button", "gp18"),         CFG_TOPIC("button", "gp19"),
        CFG_TOPIC("binary_sensor", "gp0"),   CFG_TOPIC("binary_sensor", "gp3"),
        CFG_TOPIC("sensor", "uptime"),       CFG_TOPIC("sensor", "temperature"),
    };
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) other_s(2400, kept[i], "{}");
    assert_int_equal(F.to_count, tos + 3);
    assert_int_equal(F.pub_count, pubs);
}

static void test_foreign_and_hostile_topics_ignored(void **state)
{
    (void)state;
    connect_at(1000);
    size_t tos = F.to_count, pubs = F.pub_count;
    static const char *const ignored[] = {
        "homeassistant/switch/other-node/gp20/config",     /* another device */
        "homeassistant/switch/" NODE "2/gp20/config",      /* node id only begins alike */
        "homeassistant/switch/mqtt-tiny-pico/gp20/config", /* a prefix of ours */
        "homeassistan/switch/" NODE "/gp20/config",        /* wrong discovery prefix */
        "homeassistantX/switch/" NODE "/gp20/config",
        "other/switch/" NODE "/gp20/config",
        "homeassistant/switch/" NODE "/gp20/config2",      /* not a config */
        "homeassistant/switch/" NODE "/gp20/conf",
        "homeassistant/switch/" NODE "/gp20",
        "homeassistant/switch/" NODE "/gp20/x/config",     /* a level too many */
        "homeassistant/switch/" NODE,
        "homeassistant/switch/" NODE "/",
        "homeassistant//" NODE "/gp20/config",             /* empty component */
        "homeassistant/switch/" NODE "//config",           /* empty object */
        "homeassistant/switch",
        "homeassistant/",
        "homeassistant",
        "homeassistan",
        "",
        "mqtt-tiny/home",
    };
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) {
        other_s(2000, ignored[i], "{\"name\":\"x\"}");
        if (F.to_count != tos) fail_msg("%s: published on %s", ignored[i], F.to[tos].topic);
    }
    /* Over-long: an object id of 300 bytes under our node id. */
    char longtopic[400];
    snprintf(longtopic, sizeof longtopic, "homeassistant/switch/" NODE "/%0300d/config", 0);
    other_s(3000, longtopic, "{}");
    assert_int_equal(F.to_count, tos);
    /* The topic length beyond the text given: only topic_len bytes count. */
    other(3100, CFG_TOPIC("switch", "gp20") "/x", strlen(CFG_TOPIC("switch", "gp20")) - 1, "{}",
          2);
    assert_int_equal(F.to_count, tos);
    assert_int_equal(F.pub_count, pubs);
}

/* A NUL inside the topic must not cut it into another topic: publish_to takes
 * a C string, so "homeassistant/x\0..." would clear a retained message on
 * "homeassistant/x", a topic that is not this device's. */
static void test_topic_with_nul_clears_nothing(void **state)
{
    (void)state;
    connect_at(1000);
    size_t tos = F.to_count;
    static const char t1[] = "homeassistant/x\0y/" NODE "/gp20/config";
    other(2000, t1, sizeof t1 - 1, "{}", 2);
    static const char t2[] = "homeassistant/switch/" NODE "/gp20\0/config";
    other(2100, t2, sizeof t2 - 1, "{}", 2);
    static const char t3[] = "homeassistant/switch/" NODE "/gp1\0006/config";
    other(2200, t3, sizeof t3 - 1, "{}", 2);
    if (F.to_count != tos) fail_msg("published on \"%s\"", F.to[tos].topic);
}

static void test_removal_refused_is_logged_and_dropped(void **state)
{
    (void)state;
    connect_at(1000);
    size_t tos = F.to_count, warnings = LOG.warnings;
    F.to_limited = true;
    other_s(2000, CFG_TOPIC("switch", "gp20"), "{}");
    assert_int_equal(F.to_refused, 1);
    assert_int_equal(LOG.warnings, warnings + 1);
    assert_string_equal(LOG.last,
                        "discovery: removal not queued; retried after the next connect");
    /* The main topic is not held up by it. */
    msg(2100, "{\"GP16\":1}");
    expect_last("{\"GP16\":1,");
    F.to_limited = false;
    at(5000);
    assert_int_equal(F.to_count, tos);
}

/* ---- discovery off or impossible ---- */

static void test_discovery_off_publishes_no_configs(void **state)
{
    (void)state;
    CFG.homeassistant.discovery = false;
    start_ha(0, true);
    connect_at(10);
    assert_int_equal(F.to_count, 1); /* the status word only */
    assert_string_equal(F.to[0].topic, "mqtt-tiny/home/status");
    assert_int_equal(F.pub_count, 1); /* the state; no stats for sensors */
    other_s(100, "homeassistant/status", "online");
    other_s(200, CFG_TOPIC("switch", "gp20"), "{}");
    assert_int_equal(F.to_count, 1);
    assert_int_equal(F.pub_count, 1);
    /* The periodic full state comes without stats. */
    at(10 + 7200u * 1000u);
    assert_int_equal(F.pub_count, 2);
    assert_null(strstr(last_pub(), "STATS"));
}

static void test_no_publish_to_means_no_discovery(void **state)
{
    (void)state;
    start_ha(0, false); /* discovery configured, the platform cannot */
    connect_at(10);
    assert_int_equal(F.pub_count, 1);
    assert_null(strstr(last_pub(), "STATS"));
    other_s(100, "homeassistant/status", "online");
    other_s(200, CFG_TOPIC("switch", "gp20"), "{}");
    assert_int_equal(F.pub_count, 1);
    controller_stop(&C, 300); /* no offline either */
    assert_int_equal(F.to_count, 0);
}

static void test_periodic_state_brings_stats(void **state)
{
    (void)state;
    connect_at(10);
    assert_int_equal(F.pub_count, 2);
    at(10 + 7200u * 1000u);
    assert_int_equal(F.pub_count, 4);
    assert_non_null(strstr(F.pubs[2], "\"GP0\":0,"));
    assert_non_null(strstr(F.pubs[3], "\"STATS\":"));
    assert_int_equal(F.to_count, 13); /* configs once per connection */
}

static void test_stop_publishes_offline(void **state)
{
    (void)state;
    controller_stop(&C, 500); /* not connected: nothing */
    assert_int_equal(F.to_count, 0);
    connect_at(1000);
    controller_stop(&C, 2000);
    assert_int_equal(F.to_count, 14);
    assert_string_equal(F.to[13].topic, "mqtt-tiny/home/status");
    assert_string_equal(F.to[13].payload, "offline");
    assert_true(F.to[13].retain);
}

/* A halted device publishes neither status nor configs (docs/protocol.md). */
static void test_halted_device_publishes_no_configs(void **state)
{
    (void)state;
    connect_at(1000);
    for (uint32_t i = 0; i < 20; i++) msg(2000 + i * 10, "{\"CMD\":\"refresh\"}");
    assert_true(controller_publishing_halted(&C));
    controller_on_connection(&C, 3000, false);
    size_t tos = F.to_count;
    connect_at(4000);
    assert_int_equal(F.to_count, tos);
    other_s(5000, "homeassistant/status", "online");
    assert_int_equal(F.to_count, tos);
}

/* ---- the entity list from inside ---- */

static void test_build_limits(void **state)
{
    (void)state;
    char topic[CONFIG_TOPIC_SIZE + CONTROLLER_HA_TOPIC_SIZE];
    assert_int_equal(ctl_discovery_count(&C), 12);
    assert_true(ctl_discovery_build(&C, 11, topic, sizeof topic) > 0);
    assert_string_equal(topic, CFG_TOPIC("sensor", "temperature"));
    assert_int_equal(ctl_discovery_build(&C, 12, topic, sizeof topic), -1);
    /* A topic buffer too small is refused, not cut. */
    size_t need = strlen(CFG_TOPIC("binary_sensor", "gp0")) + 1;
    assert_int_equal(ctl_discovery_build(&C, 0, topic, need - 1), -1);
    assert_true(ctl_discovery_build(&C, 0, topic, need + 1) > 0);
}

/* ---- controller_publish.c: NOTIFY ---- */

static void test_notify_after_state(void **state)
{
    (void)state;
    CFG.notify_pins = (1u << 1) | (1u << 16);
    start_ha(0, true);
    connect_at(10);
    size_t pubs = F.pub_count;
    /* Both change while the broker connection is busy: one state, one NOTIFY. */
    F.publish_fails = true;
    controller_on_input(&C, 1000, 1, false);
    controller_on_input(&C, 1000, 2, false); /* not listed */
    at(1050);
    msg(1060, "{\"GP16\":1}");
    F.publish_fails = false;
    at(1200);
    assert_int_equal(F.pub_count, pubs + 2);
    assert_non_null(strstr(F.pubs[pubs], "{\"GP1\":1,\"GP2\":1,\"GP16\":1,\"TIME\":"));
    assert_non_null(strstr(F.pubs[pubs + 1], "{\"NOTIFY\":{\"GP1\":1,\"GP16\":1},\"TIME\":"));
    /* One of them alone. */
    msg(5000, "{\"GP16\":0}");
    assert_int_equal(F.pub_count, pubs + 4);
    expect_last("{\"NOTIFY\":{\"GP16\":0},\"TIME\":");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_connect_publishes_status_configs_then_state, setup_ha),
        cmocka_unit_test_setup(test_switch_config_commands_the_relay, setup_ha),
        cmocka_unit_test_setup(test_button_config_presses_the_momentary_relay, setup_ha),
        cmocka_unit_test_setup(test_binary_sensor_configs, setup_ha),
        cmocka_unit_test_setup(test_diagnostic_sensor_configs, setup_ha),
        cmocka_unit_test_setup(test_availability_topic_forms, setup_ha),
        cmocka_unit_test_setup(test_node_id_and_prefix, setup_ha),
        cmocka_unit_test_setup(test_longest_client_id, setup_ha),
        cmocka_unit_test_setup(test_worst_case_configs_fit, setup_ha),
        cmocka_unit_test_setup(test_refused_configs_retried_one_per_step, setup_ha),
        cmocka_unit_test_setup(test_refused_status_retried, setup_ha),
        cmocka_unit_test_setup(test_reconnect_publishes_all_again, setup_ha),
        cmocka_unit_test_setup(test_birth_message_republishes_state, setup_ha),
        cmocka_unit_test_setup(test_stale_configs_removed, setup_ha),
        cmocka_unit_test_setup(test_foreign_and_hostile_topics_ignored, setup_ha),
        cmocka_unit_test_setup(test_topic_with_nul_clears_nothing, setup_ha),
        cmocka_unit_test_setup(test_removal_refused_is_logged_and_dropped, setup_ha),
        cmocka_unit_test_setup(test_discovery_off_publishes_no_configs, setup_ha),
        cmocka_unit_test_setup(test_no_publish_to_means_no_discovery, setup_ha),
        cmocka_unit_test_setup(test_periodic_state_brings_stats, setup_ha),
        cmocka_unit_test_setup(test_stop_publishes_offline, setup_ha),
        cmocka_unit_test_setup(test_halted_device_publishes_no_configs, setup_ha),
        cmocka_unit_test_setup(test_build_limits, setup_ha),
        cmocka_unit_test_setup(test_notify_after_state, setup_ha),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
