/*
 * Home Assistant MQTT discovery (docs/protocol.md#home-assistant-discovery).
 *
 * Entities, in a fixed order (the index is what ctl_flush walks):
 *   pins in GPIO order   relay -> switch, momentary -> button,
 *                        contact -> binary_sensor (config device_class)
 *   diagnostics          outages, uptime, rssi, temperature -> sensor
 * One retained config per entity on
 *   <prefix>/<component>/<node id>/<object id>/config
 * where the node id is the client id with every character outside
 * [A-Za-z0-9_-] replaced by '_' and the object id is "gp16", "uptime", ...
 * All of them read and command the one configured topic through templates,
 * so other clients of the topic see nothing new. Each config is built into
 * c->out when its turn comes: never more than one at a time.
 */
#include "controller_internal.h"

#include <string.h>

typedef struct {
    const char *object;   /* object id */
    const char *name;
    const char *key;      /* key in the stats message */
    const char *unit;     /* NULL: none */
    const char *device_class;
    const char *state_class;
} diag_entity;

/* outages first: with no pins it is the first config, the one with the
 * full device block, and the shortest of them. */
static const diag_entity diagnostics[] = {
    {"outages", "Outages", "OUTAGES", NULL, NULL, "total_increasing"},
    {"uptime", "Uptime", "UPTIME_S", "s", "duration", "total_increasing"},
    {"rssi", "WiFi signal", "RSSI", "dBm", "signal_strength", "measurement"},
    {"temperature", "Temperature", "TEMP_C", "\xc2\xb0" "C", "temperature", "measurement"},
};
#define DIAG_COUNT (sizeof diagnostics / sizeof diagnostics[0])

bool ctl_discovery_on(const controller *c)
{
    return c->cfg->homeassistant.discovery && c->platform.publish_to != NULL;
}

static void node_id(const config *cfg, char out[CONFIG_NAME_SIZE])
{
    size_t n = 0;
    for (; n + 1 < CONFIG_NAME_SIZE && cfg->mqtt.client_id[n] != '\0'; n++) {
        char ch = cfg->mqtt.client_id[n];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
        out[n] = ok ? ch : '_';
    }
    out[n] = '\0';
}

bool controller_ha_topics(const config *cfg, char birth[CONTROLLER_HA_TOPIC_SIZE],
                          char filter[CONTROLLER_HA_TOPIC_SIZE])
{
    birth[0] = '\0';
    filter[0] = '\0';
    if (cfg == NULL || !cfg->homeassistant.discovery) return true;
    char node[CONFIG_NAME_SIZE];
    node_id(cfg, node);
    ctl_text t;
    ctl_text_init(&t, birth, CONTROLLER_HA_TOPIC_SIZE);
    ctl_text_str(&t, cfg->homeassistant.discovery_prefix);
    ctl_text_str(&t, "/status");
    ctl_text_init(&t, filter, CONTROLLER_HA_TOPIC_SIZE);
    ctl_text_str(&t, cfg->homeassistant.discovery_prefix);
    ctl_text_str(&t, "/+/");
    ctl_text_str(&t, node);
    ctl_text_str(&t, "/+/config");
    return true; /* CONTROLLER_HA_TOPIC_SIZE holds the longest prefix and node id */
}

size_t ctl_discovery_count(const controller *c)
{
    return c->pin_count + DIAG_COUNT;
}

static const char *component_of(const controller *c, size_t i)
{
    if (i >= c->pin_count) return "sensor";
    switch ((controller_pin_kind)c->pins[i].kind) {
    case CONTROLLER_PIN_RELAY: return "switch";
    case CONTROLLER_PIN_MOMENTARY: return "button";
    case CONTROLLER_PIN_CONTACT: return "binary_sensor";
    }
    return "sensor";
}

/* "gp16" or a diagnostic's object id. */
static void object_of(const controller *c, size_t i, char out[16])
{
    ctl_text t;
    ctl_text_init(&t, out, 16);
    if (i < c->pin_count) {
        ctl_text_str(&t, "gp");
        ctl_text_u32(&t, c->pins[i].pin);
    } else {
        ctl_text_str(&t, diagnostics[i - c->pin_count].object);
    }
}

static void write_value_template(json_writer *w, const char *key)
{
    char tpl[64];
    ctl_text t;
    ctl_text_init(&t, tpl, sizeof tpl);
    ctl_text_str(&t, "{{ value_json.");
    ctl_text_str(&t, key);
    ctl_text_str(&t, " | default('') }}");
    json_write_key(w, "val_tpl");
    json_write_string(w, tpl);
}

/* The device block: in full (name, manufacturer, model, version) only in
 * the first config after a connect (index 0, always published first), its
 * identifiers alone in the others; HA merges them into one device. */
static void write_device(controller *c, json_writer *w, const char *node, bool full)
{
    json_write_key(w, "dev");
    json_write_object_begin(w);
    json_write_key(w, "ids");
    json_write_array_begin(w);
    json_write_string(w, node);
    json_write_array_end(w);
    if (full) {
        json_write_key(w, "name");
        json_write_string(w, c->cfg->mqtt.client_id);
        json_write_key(w, "mf");
        json_write_string(w, "MqttTinyController");
        json_write_key(w, "mdl");
        json_write_string(w, "Pico W relay controller");
        json_write_key(w, "sw");
        json_write_string(w, CONTROLLER_VERSION);
    }
    json_write_object_end(w);
}

/* The availability topic, as "~<rest>" when it starts with the topic. Not
 * when the rest ends in '~': HA would replace that one too. */
static void write_availability(controller *c, json_writer *w)
{
    const char *topic = c->cfg->mqtt.topic;
    const char *status = c->cfg->mqtt.status_topic;
    if (status[0] == '\0') return;
    size_t n = strlen(topic), sn = strlen(status);
    json_write_key(w, "avty_t");
    if (sn >= n && memcmp(status, topic, n) == 0 && (sn == n || status[sn - 1] != '~')) {
        char rest[sizeof c->cfg->mqtt.status_topic + 1];
        rest[0] = '~';
        memcpy(rest + 1, status + n, sn - n + 1);
        json_write_string(w, rest);
    } else {
        json_write_string(w, status);
    }
}

int ctl_discovery_build(controller *c, size_t i, char *topic, size_t topic_size)
{
    if (i >= ctl_discovery_count(c)) return -1;
    char node[CONFIG_NAME_SIZE];
    char object[16];
    char text[CONFIG_NAME_SIZE + 24];
    node_id(c->cfg, node);
    object_of(c, i, object);
    ctl_text t;
    ctl_text_init(&t, topic, topic_size);
    ctl_text_str(&t, c->cfg->homeassistant.discovery_prefix);
    ctl_text_str(&t, "/");
    ctl_text_str(&t, component_of(c, i));
    ctl_text_str(&t, "/");
    ctl_text_str(&t, node);
    ctl_text_str(&t, "/");
    ctl_text_str(&t, object);
    ctl_text_str(&t, "/config");
    if (t.len + 1 >= topic_size) return -1;

    json_writer w;
    json_writer_init(&w, c->out, sizeof c->out);
    json_write_object_begin(&w);
    json_write_key(&w, "~");
    json_write_string(&w, c->cfg->mqtt.topic);
    ctl_text_init(&t, text, sizeof text);
    ctl_text_str(&t, node);
    ctl_text_str(&t, "_");
    ctl_text_str(&t, object);
    json_write_key(&w, "uniq_id");
    json_write_string(&w, text);
    if (i < c->pin_count) {
        const controller_pin *p = &c->pins[i];
        char key[8];
        ctl_pin_name(p->pin, key);
        json_write_key(&w, "name");
        json_write_string(&w, key);
        if (p->kind == CONTROLLER_PIN_MOMENTARY) {
            ctl_text_init(&t, text, sizeof text);
            ctl_text_str(&t, "{\"");
            ctl_text_str(&t, key);
            ctl_text_str(&t, "\":1}");
            json_write_key(&w, "cmd_t");
            json_write_string(&w, "~");
            json_write_key(&w, "pl_prs");
            json_write_string(&w, text);
        } else {
            json_write_key(&w, "stat_t");
            json_write_string(&w, "~");
            write_value_template(&w, key);
            json_write_key(&w, "pl_on");
            json_write_string(&w, "1");
            json_write_key(&w, "pl_off");
            json_write_string(&w, "0");
        }
        if (p->kind == CONTROLLER_PIN_RELAY) {
            ctl_text_init(&t, text, sizeof text);
            ctl_text_str(&t, "{\"");
            ctl_text_str(&t, key);
            ctl_text_str(&t, "\":{{ value }}}");
            json_write_key(&w, "cmd_t");
            json_write_string(&w, "~");
            json_write_key(&w, "cmd_tpl");
            json_write_string(&w, text);
            /* stat_on / stat_off: HA's default is pl_on / pl_off */
        }
        if (p->kind == CONTROLLER_PIN_CONTACT) {
            const char *cls =
                config_device_class_name(c->cfg->contacts[p->index].device_class);
            if (cls[0] != '\0') {
                json_write_key(&w, "dev_cla");
                json_write_string(&w, cls);
            }
        }
    } else {
        const diag_entity *d = &diagnostics[i - c->pin_count];
        json_write_key(&w, "name");
        json_write_string(&w, d->name);
        json_write_key(&w, "stat_t");
        json_write_string(&w, "~");
        write_value_template(&w, d->key);
        if (d->unit != NULL) {
            json_write_key(&w, "unit_of_meas");
            json_write_string(&w, d->unit);
        }
        if (d->device_class != NULL) {
            json_write_key(&w, "dev_cla");
            json_write_string(&w, d->device_class);
        }
        json_write_key(&w, "stat_cla");
        json_write_string(&w, d->state_class);
        json_write_key(&w, "ent_cat");
        json_write_string(&w, "diagnostic");
    }
    write_availability(c, &w);
    json_write_key(&w, "qos");
    json_write_int(&w, 1);
    write_device(c, &w, node, i == 0);
    json_write_object_end(&w);
    return json_writer_finish(&w);
}

static bool text_is(const char *s, size_t n, const char *want)
{
    return strlen(want) == n && memcmp(s, want, n) == 0;
}

/* Whether <component>/<object> names one of the current entities. */
static bool known_entity(controller *c, const char *comp, size_t comp_len, const char *obj,
                         size_t obj_len)
{
    char object[16];
    for (size_t i = 0; i < ctl_discovery_count(c); i++) {
        object_of(c, i, object);
        if (text_is(comp, comp_len, component_of(c, i)) && text_is(obj, obj_len, object)) {
            return true;
        }
    }
    return false;
}

/* A retained config under our node id for an entity we no longer have:
 * cleared with an empty retained config (HA then removes the entity). */
static void remove_stale(controller *c, const char *topic, size_t topic_len)
{
    const char *prefix = c->cfg->homeassistant.discovery_prefix;
    char node[CONFIG_NAME_SIZE];
    node_id(c->cfg, node);
    size_t pn = strlen(prefix), nn = strlen(node);
    /* A NUL would cut the copy below into another, shorter topic. */
    if (memchr(topic, '\0', topic_len) != NULL) return;
    /* <prefix>/<component>/<node>/<object>/config */
    if (topic_len < pn + 1 || memcmp(topic, prefix, pn) != 0 || topic[pn] != '/') return;
    const char *comp = topic + pn + 1;
    const char *end = topic + topic_len;
    const char *slash = memchr(comp, '/', (size_t)(end - comp));
    if (slash == NULL) return;
    size_t comp_len = (size_t)(slash - comp);
    const char *rest = slash + 1;
    if ((size_t)(end - rest) < nn + 1 || memcmp(rest, node, nn) != 0 || rest[nn] != '/') return;
    const char *obj = rest + nn + 1;
    slash = memchr(obj, '/', (size_t)(end - obj));
    if (slash == NULL || !text_is(slash, (size_t)(end - slash), "/config")) return;
    size_t obj_len = (size_t)(slash - obj);
    if (comp_len == 0 || obj_len == 0 || known_entity(c, comp, comp_len, obj, obj_len)) return;
    char copy[CONFIG_TOPIC_SIZE + CONTROLLER_HA_TOPIC_SIZE];
    if (topic_len >= sizeof copy) return;
    memcpy(copy, topic, topic_len);
    copy[topic_len] = '\0';
    ctl_log(c, CONTROLLER_LOG_INFO, "discovery: removing an entity the configuration no longer has");
    if (!c->platform.publish_to(c->ctx, copy, "", 0, 1, true)) {
        ctl_log(c, CONTROLLER_LOG_WARN, "discovery: removal not queued; retried after the next connect");
    }
}

void ctl_discovery_message(controller *c, const char *topic, size_t topic_len, const char *payload,
                           size_t len)
{
    if (!ctl_discovery_on(c)) return;
    char birth[CONTROLLER_HA_TOPIC_SIZE];
    char filter[CONTROLLER_HA_TOPIC_SIZE];
    controller_ha_topics(c->cfg, birth, filter);
    if (text_is(topic, topic_len, birth)) {
        if (text_is(payload, len, "online")) {
            ctl_log(c, CONTROLLER_LOG_INFO, "Home Assistant is online: publishing the state");
            c->full_state_pending = true;
            c->stats_pending = true;
        }
    } else if (len > 0) {
        remove_stale(c, topic, topic_len);
    }
}
