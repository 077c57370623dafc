/* contact: debounce and logical level. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "contact.h"

static void test_edge_accepted_after_quiet(void **state)
{
    (void)state;
    contact_debounce d;
    contact_init(&d, true);
    assert_int_equal(contact_wait(&d, 50, 0), UINT32_MAX);
    contact_edge(&d, 100, false);
    assert_int_equal(contact_wait(&d, 50, 120), 30);
    assert_false(contact_settle(&d, 50, 149));
    assert_true(contact_settle(&d, 50, 150));
    assert_false(d.stable);
    assert_false(contact_settle(&d, 50, 500));
}

static void test_bounce_is_no_change(void **state)
{
    (void)state;
    contact_debounce d;
    contact_init(&d, true);
    contact_edge(&d, 100, false);
    contact_edge(&d, 110, true);
    assert_false(d.settling);
    contact_edge(&d, 120, false);
    contact_edge(&d, 130, false); /* repeated level keeps the edge time */
    assert_false(contact_settle(&d, 50, 169));
    assert_true(contact_settle(&d, 50, 170));
    contact_edge(&d, 200, true);
    assert_true(contact_settle(&d, 0, 200)); /* no debounce */
}

static void test_logical(void **state)
{
    (void)state;
    assert_true(contact_logical(false, true, true));   /* pull-up, closed, NO -> 1 */
    assert_false(contact_logical(true, true, true));   /* pull-up, open -> 0 */
    assert_true(contact_logical(true, false, true));   /* pull-down, closed -> 1 */
    assert_true(contact_logical(true, true, false));   /* NC contact open -> 1 */
    assert_false(contact_logical(false, true, false));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edge_accepted_after_quiet),
        cmocka_unit_test(test_bounce_is_no_change),
        cmocka_unit_test(test_logical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
