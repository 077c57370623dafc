#include "firmware.h"

#include <stdio.h>
#include <string.h>

#include "board_pico.h"
#include "controller.h"
#include "log_buffer.h"
#include "mbedtls/md.h"
#include "mqtt_client.h"
#include "mqtt_transport_pico.h"
#include "net_services.h"
#include "pico/time.h"
#include "pico/unique_id.h"
#include "radio.h"
#include "tls_heap.h"
#include "wifi_supervisor.h"

typedef struct {
    const config *cfg;
    config_broker broker;
    wifi_supervisor wifi;
    mqtt_client client;
    mqtt_client_config client_cfg;
    mqtt_transport transport;
    controller ctl;
    public_ip ip;
    const uint8_t *ca_pem;
    size_t ca_pem_len;
    bool client_ok;      /* the MQTT client is set up */
    bool transport_ok;   /* and its transport (TLS configuration included) */
    bool mqtt_running;
    bool led_on;
    bool led_known;
    char ha_birth[CONTROLLER_HA_TOPIC_SIZE];   /* Home Assistant topics ("" when off) */
    char ha_filter[CONTROLLER_HA_TOPIC_SIZE];
    union {
        uint8_t bytes[FIRMWARE_NET_BUFFER_SIZE];   /* rx, tx, inflight */
        json_token boot_tokens[FIRMWARE_CONFIG_TOKENS];
    } net;
} firmware;

static firmware fw;

/* lwIP's altcp_tls hands each altcp_write() to one mbedtls_ssl_write(), which
 * takes at most one record: a write must never exceed the record size. */
_Static_assert(FIRMWARE_MQTT_TX_SIZE <= MBEDTLS_SSL_OUT_CONTENT_LEN,
               "the MQTT tx buffer must fit one TLS record");

static uint32_t now_ms(void)
{
    return to_ms_since_boot(get_absolute_time());
}

json_token *firmware_boot_tokens(void)
{
    return fw.net.boot_tokens;
}

/* ---- controller platform ---- */

static void set_output(void *ctx, uint8_t pin, bool level)
{
    (void)ctx;
    board_set_output(pin, level);
}

static bool read_input(void *ctx, uint8_t pin)
{
    (void)ctx;
    return board_read_input(pin);
}

static bool publish(void *ctx, const char *payload, size_t len)
{
    firmware *f = ctx;
    return mqtt_client_publish(&f->client, now_ms(), f->cfg->mqtt.topic, (const uint8_t *)payload,
                               len, 1, false, NULL) == MQTT_OK;
}

static bool publish_to(void *ctx, const char *topic, const char *payload, size_t len, uint8_t qos,
                       bool retain)
{
    firmware *f = ctx;
    return mqtt_client_publish(&f->client, now_ms(), topic, (const uint8_t *)payload, len, qos,
                               retain, NULL) == MQTT_OK;
}

static void read_stats(void *ctx, controller_platform_stats *s)
{
    (void)ctx;
    s->uptime_ms = to_us_since_boot(get_absolute_time()) / 1000u;
    board_memory(&s->mem_total_bytes, &s->mem_free_bytes);
    s->temp_milli_c = board_temperature_milli_c();
    s->temp_real = true;
    int32_t rssi = 0;
    s->rssi_valid = radio_rssi(&rssi);
    s->rssi_dbm = (int16_t)rssi;
    s->reboots = board_reboots();
}

static bool request_public_ip(void *ctx)
{
    firmware *f = ctx;
    return wifi_supervisor_is_up(&f->wifi) && public_ip_request(&f->ip, now_ms());
}

static void on_public_ip(void *ctx, uint32_t now, const char *ip, const char *why)
{
    firmware *f = ctx;
    if (ip != NULL)
        controller_on_public_ip(&f->ctl, now, ip);
    else
        controller_on_public_ip_failed(&f->ctl, now, why);
}

static bool sync_time(void *ctx)
{
    firmware *f = ctx;
    return wifi_supervisor_is_up(&f->wifi) && clock_sntp_sync_now();
}

static bool unix_time(void *ctx, int64_t *secs)
{
    (void)ctx;
    return clock_unix_time(secs);
}

static bool hmac_sha1(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *msg,
                      size_t msg_len, uint8_t out[20])
{
    (void)ctx;
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA1);
    return md != NULL && mbedtls_md_hmac(md, key, key_len, msg, msg_len, out) == 0;
}

static void log_line(void *ctx, controller_log_level level, const char *text)
{
    (void)ctx;
    static const char *const names[] = { "debug", "info", "warn", "error" };
    printf("controller %s: %s\n", (unsigned)level < 4u ? names[level] : "?", text);
}

/* ---- MQTT events ---- */

static void on_mqtt_event(void *ctx, const mqtt_event *e)
{
    firmware *f = ctx;
    uint32_t now = now_ms();
    switch (e->type) {
    case MQTT_EVENT_CONNECTED:
        printf("mqtt: connected (session present: %d)\n", e->u.connected.session_present);
        controller_on_session(&f->ctl, now, e->u.connected.session_present);
        break;
    case MQTT_EVENT_SUBSCRIBED:
        if (e->u.suback.index == 0) /* the others are Home Assistant's topics */
            controller_on_connection(&f->ctl, now, true);
        break;
    case MQTT_EVENT_SUBSCRIBE_FAILED:
        if (e->u.suback.index != 0) {
            printf("mqtt: the broker refused a Home Assistant topic\n");
            break;
        }
        printf("mqtt: the broker refused the subscription to %s\n", f->cfg->mqtt.topic);
        controller_on_subscribe_refused(&f->ctl, now);
        break;
    case MQTT_EVENT_DISCONNECTED:
        printf("mqtt: connection lost (%s)\n", mqtt_status_name(e->reason));
        controller_on_connection(&f->ctl, now, false);
        break;
    case MQTT_EVENT_CONNECT_FAILED:
        if (e->reason == MQTT_ERR_REFUSED)
            printf("mqtt: broker refused: %s\n", mqtt_connack_text(e->u.connack_code));
        else
            printf("mqtt: connect failed (%s)\n", mqtt_status_name(e->reason));
        break;
    case MQTT_EVENT_MESSAGE: {
        const mqtt_publish *m = &e->u.message;
        size_t topic_len = strlen(f->cfg->mqtt.topic);
        if (m->topic_len == topic_len && memcmp(m->topic, f->cfg->mqtt.topic, topic_len) == 0)
            controller_on_message(&f->ctl, now, (const char *)m->payload, m->payload_len, m->dup);
        else
            controller_on_other_message(&f->ctl, now, m->topic, m->topic_len,
                                        (const char *)m->payload, m->payload_len);
        break;
    }
    case MQTT_EVENT_PACKET_DROPPED:
        printf("mqtt: dropped an incoming packet of %lu bytes (too large)\n",
               (unsigned long)e->u.dropped_len);
        break;
    case MQTT_EVENT_PUBLISH_ACKED:
    default:
        break;
    }
}

static void on_input(void *ctx, uint32_t now, uint8_t pin, bool level)
{
    firmware *f = ctx;
    controller_on_input(&f->ctl, now, pin, level);
}

/* ---- setup ---- */

/* The MQTT client (no network yet: its transport comes with the radio). */
static bool setup_client(firmware *f)
{
    const config_mqtt *m = &f->cfg->mqtt;
    if (!config_parse_broker_url(m->broker_url, &f->broker)) {
        printf("mqtt: unusable broker URL %s\n", m->broker_url);
        return false;
    }
    f->client_cfg = (mqtt_client_config){
        .client_id = m->client_id,
        .username = m->username[0] != '\0' ? m->username : NULL,
        .password = m->username[0] != '\0' && m->password[0] != '\0' ? m->password : NULL,
        .keepalive_s = m->keepalive_s,
        .session_mode = m->session == CONFIG_SESSION_PERSISTENT ? MQTT_SESSION_PERSISTENT
                        : m->session == CONFIG_SESSION_CLEAN     ? MQTT_SESSION_CLEAN
                                                                 : MQTT_SESSION_CLEAN_FIRST,
        .subscriptions = { m->topic },
        .subscription_qos = 1,
    };
    controller_ha_topics(f->cfg, f->ha_birth, f->ha_filter);
    if (f->ha_birth[0] != '\0') {
        f->client_cfg.subscriptions[1] = f->ha_birth;
        f->client_cfg.subscriptions[2] = f->ha_filter;
    }
    if (m->status_topic[0] != '\0') {
        /* availability: the broker publishes the retained "offline" when
         * the connection dies (the firmware never disconnects cleanly) */
        f->client_cfg.will_topic = m->status_topic;
        f->client_cfg.will_payload = (const uint8_t *)"offline";
        f->client_cfg.will_payload_len = 7;
        f->client_cfg.will_qos = 1;
        f->client_cfg.will_retain = true;
    }
    memset(f->net.bytes, 0, sizeof f->net.bytes);   /* the boot-time tokens are done */
    mqtt_buffers buffers = {
        .rx = f->net.bytes,
        .rx_size = FIRMWARE_MQTT_RX_SIZE,
        .tx = f->net.bytes + FIRMWARE_MQTT_RX_SIZE,
        .tx_size = FIRMWARE_MQTT_TX_SIZE,
        .inflight = f->net.bytes + FIRMWARE_MQTT_RX_SIZE + FIRMWARE_MQTT_TX_SIZE,
        .inflight_size = FIRMWARE_MQTT_INFLIGHT_SIZE,
    };
    pico_unique_board_id_t id;
    pico_get_unique_board_id(&id);
    uint32_t seed = 0;
    for (size_t i = 0; i < sizeof id.id; i++)
        seed = seed * 31u + id.id[i];
    seed ^= (uint32_t)time_us_32();
    mqtt_status st = mqtt_client_init(&f->client, &f->client_cfg, &buffers, on_mqtt_event, f, seed);
    if (st != MQTT_OK) {
        printf("mqtt: bad client settings (%s)\n", mqtt_status_name(st));
        return false;
    }
    return true;
}

/* Starts the radio (and with it lwIP); once it runs, the MQTT transport and
 * its TLS configuration, which lwIP's heap holds, are set up once. */
static bool start_radio(firmware *f, bool again)
{
    if (!radio_init(f->cfg->wifi.country)) {
        printf("wifi: radio %s %s\n", radio_name(), again ? "still not starting"
                                                           : "did not start; retrying");
        return false;
    }
    printf("wifi: radio %s started\n", radio_name());
    if (f->client_ok && !f->transport_ok)
        f->transport_ok = mqtt_transport_init(&f->transport, &f->client, &f->broker, f->ca_pem,
                                              f->ca_pem_len);
    return true;
}

static bool setup_controller(firmware *f, uint32_t now)
{
    controller_platform platform = {
        .set_output = set_output,
        .read_input = read_input,
        .publish = publish,
        .read_stats = read_stats,
        .request_public_ip = request_public_ip,
        .unix_time = unix_time,
        .hmac_sha1 = hmac_sha1,
        .log = log_line,
        .publish_to = publish_to,
        .sync_time = sync_time,
    };
    return controller_init(&f->ctl, f->cfg, &platform, f, now);
}

static led_mode current_led_mode(firmware *f)
{
    if (controller_publishing_halted(&f->ctl))
        return LED_HALTED;
    for (size_t i = 0; i < f->cfg->relay_count; i++) {
        if (controller_relay_locked(&f->ctl, f->cfg->relays[i].pin))
            return LED_HALTED;
    }
    for (size_t i = 0; i < f->cfg->momentary_count; i++) {
        if (controller_relay_locked(&f->ctl, f->cfg->momentary[i].pin))
            return LED_HALTED;
    }
    return mqtt_client_is_connected(&f->client) ? LED_RUNNING : LED_CONNECTING;
}

void firmware_boot(void)
{
    board_watchdog_start();
    printf("mqtt-tiny %s: boot (reboots since power-up: %lu%s)\n", CONTROLLER_VERSION,
           (unsigned long)board_reboots(), board_last_reset_by_watchdog() ? ", last by watchdog" : "");
    board_temperature_init();
}

void firmware_run_unconfigured(const char *why, const config_errors *errors)
{
    bool radio_ok = radio_init("XX");   /* the LED hangs off the WiFi chip */
    uint32_t retry_at = now_ms() + FIRMWARE_RADIO_RETRY_MS;
    uint32_t say_at = now_ms();
    bool led_on = false, led_known = false;
    for (;;) {
        uint32_t now = now_ms();
        board_watchdog_feed();
        log_buffer_service();
        if ((int32_t)(now - say_at) >= 0) {
            printf("%s\n", why);
            for (size_t i = 0; errors != NULL && i < errors->count && i < CONFIG_MAX_ERRORS; i++)
                printf("config error: %s: %s\n", errors->errors[i].path, errors->errors[i].message);
            say_at = now + FIRMWARE_UNCONFIGURED_REPEAT_MS;
        }
        if (!radio_ok && (int32_t)(now - retry_at) >= 0) {
            radio_ok = radio_init("XX");
            retry_at = now + FIRMWARE_RADIO_RETRY_MS;
        }
        bool led = board_led_level(LED_NO_CONFIG, now);
        if (led != led_on || !led_known) {
            radio_led(led);
            led_on = led;
            led_known = true;
        }
        radio_poll(board_led_next_change(LED_NO_CONFIG, now));
    }
}

void firmware_run(const config *cfg, const uint8_t *ca_pem, size_t ca_pem_len)
{
    firmware *f = &fw;
    f->cfg = cfg;
    f->ca_pem = ca_pem;
    f->ca_pem_len = ca_pem_len;
    uint32_t now = now_ms();

    bool controller_ok = setup_controller(f, now);
    if (!controller_ok)
        printf("controller: configuration unusable; relays stay off\n");
    f->client_ok = setup_client(f);
    if (!public_ip_init(&f->ip, cfg->public_ip_url, on_public_ip, f))
        printf("getip: unusable URL %s\n", cfg->public_ip_url);

    bool radio_ok = start_radio(f, false);
    uint32_t radio_retry_at = now_ms() + FIRMWARE_RADIO_RETRY_MS;
    wifi_supervisor_init(&f->wifi, cfg->wifi.ssid, cfg->wifi.password);
    wifi_supervisor_start(&f->wifi, now_ms());

    for (;;) {
        now = now_ms();
        board_watchdog_feed();

        log_buffer_service();

        if (!radio_ok && (int32_t)(now - radio_retry_at) >= 0) {
            radio_ok = start_radio(f, true);
            radio_retry_at = now + FIRMWARE_RADIO_RETRY_MS;
        }

        if (wifi_supervisor_step(&f->wifi, now)) {
            if (wifi_supervisor_is_up(&f->wifi)) {
                clock_sntp_start();
                if (f->transport_ok && !f->mqtt_running) {
                    mqtt_client_start(&f->client, now);
                    f->mqtt_running = true;
                }
            } else if (f->mqtt_running) {
                /* No link: drop the connection now instead of waiting for
                 * keepalive, and start afresh (first attempt at once) when
                 * the WiFi is back. */
                mqtt_transport_abort(&f->transport, now);
                mqtt_client_stop(&f->client, now);
                mqtt_transport_act(&f->transport, mqtt_client_step(&f->client, now), now);
                f->mqtt_running = false;
            }
        }

        if (f->mqtt_running)
            mqtt_transport_act(&f->transport, mqtt_client_step(&f->client, now), now);
        if (controller_ok) {
            board_sample_inputs(cfg, now, on_input, f);
            if (clock_sntp_take_synced())
                controller_on_time_synced(&f->ctl, now);
            controller_step(&f->ctl, now);
        }
        public_ip_step(&f->ip, now);
        mqtt_transport_flush(&f->transport, now);
        mqtt_transport_poll(&f->transport);

        /* The LED sits on the WiFi chip: every change is a bus transaction,
         * so only changes are sent. */
        bool led = board_led_level(controller_ok ? current_led_mode(f) : LED_HALTED, now);
        if (led != f->led_on || !f->led_known) {
            radio_led(led);
            f->led_on = led;
            f->led_known = true;
        }

        uint32_t wait_ms = FIRMWARE_LOOP_MS;
        if (controller_ok) {
            uint32_t c = controller_next_deadline(&f->ctl, now);
            if (c < wait_ms)
                wait_ms = c;
        }
        radio_poll(wait_ms);
    }
}
