/* mx_jget.c -- small readings of JSON from the network (mx_jget.h). */
#include "mx_jget.h"

#include <string.h>

const char *mx_jstr(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	const char *s;

	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	return memchr(s, '\0', json_string_length(v)) ? NULL : s;
}

int mx_token_ok(const char *s, size_t max)
{
	size_t i;

	if (!s || !*s)
		return 0;
	for (i = 0; s[i]; i++)
		if (i + 1 >= max || (unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

json_t *mx_jload(const char *json, size_t len)
{
	return json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
}

enum err mx_jdumps(json_t *v, char **out)
{
	*out = NULL;
	if (!v)
		return ERR_NOMEM;
	*out = json_dumps(v, JSON_COMPACT);
	json_decref(v);
	return *out ? ERR_OK : ERR_NOMEM;
}
