/* JSON reader: values, escapes, typed lookups, and errors with line:column. */
#include "eq_test.h"
#include "equivar/json.h"

#include <string.h>

static void test_values(void) {
  const char *text = "{\n \"a\": 1.5e2, \"b\": [true, false, null, -0.25],\n"
                     " \"s\": \"x\\n\\u00e9\\ud83d\\ude00\\\"\", \"o\": {\"k\": 3}, \"e\": {}, \"z\": []}";
  eq_json *j = eq_json_parse(text, strlen(text), "t.json");
  CHECK(j != NULL);
  if (!j) return;
  CHECK(j->type == EQ_JSON_OBJECT && j->count == 6);
  const eq_json *a = eq_json_get(j, "a");
  CHECK(a && a->type == EQ_JSON_NUMBER && a->number == 150.0);
  const eq_json *b = eq_json_get(j, "b");
  CHECK(b && b->type == EQ_JSON_ARRAY && b->count == 4);
  CHECK(b && b->items[0].boolean && !b->items[1].boolean && b->items[2].type == EQ_JSON_NULL &&
        b->items[3].number == -0.25);
  const char *s;
  CHECK(eq_json_string_or(j, "s", NULL, &s) == EQ_OK);
  CHECK(strcmp(s, "x\n\xc3\xa9\xf0\x9f\x98\x80\"") == 0);
  long long k;
  CHECK(eq_json_int_or(eq_json_get(j, "o"), "k", 0, &k) == EQ_OK && k == 3);
  CHECK(eq_json_int_or(j, "missing", 7, &k) == EQ_OK && k == 7);
  CHECK(eq_json_int_or(j, "s", 7, &k) == EQ_ERR_VALUE);
  CHECK(strstr(eq_error_message(), "'s'") != NULL);
  CHECK(eq_json_int_or(j, "b", 7, &k) == EQ_ERR_VALUE);
  double v[4] = {0};
  CHECK(eq_json_numbers(j, "a", 3, v) == EQ_OK && v[0] == 150 && v[2] == 150);
  CHECK(eq_json_numbers(j, "b", 4, v) == EQ_ERR_VALUE);
  eq_json_free(j);
}

static void test_errors(void) {
  struct {
    const char *text, *where;
  } bad[] = {
      {"{\"a\": 1,\n \"b\" 2}", "t.json:2:6"},
      {"[1, 2", "t.json:1:6"},
      {"{\"a\": 1, \"a\": 2}", "duplicate"},
      {"01", "trailing"},
      {"\"abc", "unterminated"},
      {"[1.]", "digit"},
      {"tru", "invalid"},
      {"{\"a\": 1} x", "trailing"},
      {"", "end of input"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    eq_error_clear();
    eq_json *j = eq_json_parse(bad[i].text, strlen(bad[i].text), "t.json");
    CHECK_MSG(j == NULL, "parsed '%s'", bad[i].text);
    eq_json_free(j);
    CHECK_MSG(strstr(eq_error_message(), bad[i].where) != NULL, "'%s' -> '%s'", bad[i].text, eq_error_message());
  }
  /* Deep nesting is refused, not a stack overflow. */
  char deep[2001];
  memset(deep, '[', 2000);
  deep[2000] = 0;
  CHECK(eq_json_parse(deep, 2000, "deep.json") == NULL);
  CHECK(strstr(eq_error_message(), "deep") != NULL);
}

int main(void) {
  test_values();
  test_errors();
  return EQ_TEST_SUMMARY();
}
