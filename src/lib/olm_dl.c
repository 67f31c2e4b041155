/* olm_dl.c -- bind libolm at run time (see olm_dl.h for why). */
#include "olm_dl.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

struct olm_dl_api olm_dl;

static void *olm_dl_handle;

#define OLM_DL_SYM(field, name)              \
	{                                    \
		(void **)&olm_dl.field, name \
	}

/* every symbol the crypto module calls, and where it goes */
static const struct {
	void **slot;
	const char *name;
} syms[] = {
	OLM_DL_SYM(get_library_version, "olm_get_library_version"),
	OLM_DL_SYM(error, "olm_error"),
	OLM_DL_SYM(account_size, "olm_account_size"),
	OLM_DL_SYM(account, "olm_account"),
	OLM_DL_SYM(account_last_error, "olm_account_last_error"),
	OLM_DL_SYM(clear_account, "olm_clear_account"),
	OLM_DL_SYM(pickle_account_length, "olm_pickle_account_length"),
	OLM_DL_SYM(pickle_account, "olm_pickle_account"),
	OLM_DL_SYM(unpickle_account, "olm_unpickle_account"),
	OLM_DL_SYM(create_account_random_length, "olm_create_account_random_length"),
	OLM_DL_SYM(create_account, "olm_create_account"),
	OLM_DL_SYM(account_identity_keys_length, "olm_account_identity_keys_length"),
	OLM_DL_SYM(account_identity_keys, "olm_account_identity_keys"),
	OLM_DL_SYM(account_signature_length, "olm_account_signature_length"),
	OLM_DL_SYM(account_sign, "olm_account_sign"),
	OLM_DL_SYM(account_one_time_keys_length, "olm_account_one_time_keys_length"),
	OLM_DL_SYM(account_one_time_keys, "olm_account_one_time_keys"),
	OLM_DL_SYM(account_mark_keys_as_published, "olm_account_mark_keys_as_published"),
	OLM_DL_SYM(account_max_number_of_one_time_keys, "olm_account_max_number_of_one_time_keys"),
	OLM_DL_SYM(account_generate_one_time_keys_random_length,
		   "olm_account_generate_one_time_keys_random_length"),
	OLM_DL_SYM(account_generate_one_time_keys, "olm_account_generate_one_time_keys"),
	OLM_DL_SYM(account_generate_fallback_key_random_length,
		   "olm_account_generate_fallback_key_random_length"),
	OLM_DL_SYM(account_generate_fallback_key, "olm_account_generate_fallback_key"),
	OLM_DL_SYM(account_unpublished_fallback_key_length,
		   "olm_account_unpublished_fallback_key_length"),
	OLM_DL_SYM(account_unpublished_fallback_key, "olm_account_unpublished_fallback_key"),
	OLM_DL_SYM(utility_size, "olm_utility_size"),
	OLM_DL_SYM(utility, "olm_utility"),
	OLM_DL_SYM(utility_last_error, "olm_utility_last_error"),
	OLM_DL_SYM(clear_utility, "olm_clear_utility"),
	OLM_DL_SYM(ed25519_verify, "olm_ed25519_verify"),
	OLM_DL_SYM(session_size, "olm_session_size"),
	OLM_DL_SYM(session, "olm_session"),
	OLM_DL_SYM(session_last_error, "olm_session_last_error"),
	OLM_DL_SYM(clear_session, "olm_clear_session"),
	OLM_DL_SYM(pickle_session_length, "olm_pickle_session_length"),
	OLM_DL_SYM(pickle_session, "olm_pickle_session"),
	OLM_DL_SYM(unpickle_session, "olm_unpickle_session"),
	OLM_DL_SYM(create_inbound_session_from, "olm_create_inbound_session_from"),
	OLM_DL_SYM(matches_inbound_session_from, "olm_matches_inbound_session_from"),
	OLM_DL_SYM(remove_one_time_keys, "olm_remove_one_time_keys"),
	OLM_DL_SYM(decrypt_max_plaintext_length, "olm_decrypt_max_plaintext_length"),
	OLM_DL_SYM(decrypt, "olm_decrypt"),
	OLM_DL_SYM(inbound_group_session_size, "olm_inbound_group_session_size"),
	OLM_DL_SYM(inbound_group_session, "olm_inbound_group_session"),
	OLM_DL_SYM(inbound_group_session_last_error, "olm_inbound_group_session_last_error"),
	OLM_DL_SYM(clear_inbound_group_session, "olm_clear_inbound_group_session"),
	OLM_DL_SYM(pickle_inbound_group_session_length, "olm_pickle_inbound_group_session_length"),
	OLM_DL_SYM(pickle_inbound_group_session, "olm_pickle_inbound_group_session"),
	OLM_DL_SYM(unpickle_inbound_group_session, "olm_unpickle_inbound_group_session"),
	OLM_DL_SYM(init_inbound_group_session, "olm_init_inbound_group_session"),
	OLM_DL_SYM(import_inbound_group_session, "olm_import_inbound_group_session"),
	OLM_DL_SYM(group_decrypt_max_plaintext_length, "olm_group_decrypt_max_plaintext_length"),
	OLM_DL_SYM(group_decrypt, "olm_group_decrypt"),
	OLM_DL_SYM(inbound_group_session_id_length, "olm_inbound_group_session_id_length"),
	OLM_DL_SYM(inbound_group_session_id, "olm_inbound_group_session_id"),
	OLM_DL_SYM(inbound_group_session_first_known_index,
		   "olm_inbound_group_session_first_known_index"),
	OLM_DL_SYM(pk_signing_size, "olm_pk_signing_size"),
	OLM_DL_SYM(pk_signing, "olm_pk_signing"),
	OLM_DL_SYM(pk_signing_last_error, "olm_pk_signing_last_error"),
	OLM_DL_SYM(clear_pk_signing, "olm_clear_pk_signing"),
	OLM_DL_SYM(pk_signing_key_from_seed, "olm_pk_signing_key_from_seed"),
	OLM_DL_SYM(pk_signing_seed_length, "olm_pk_signing_seed_length"),
	OLM_DL_SYM(pk_signing_public_key_length, "olm_pk_signing_public_key_length"),
	OLM_DL_SYM(pk_signature_length, "olm_pk_signature_length"),
	OLM_DL_SYM(pk_sign, "olm_pk_sign"),
	OLM_DL_SYM(pk_decryption_size, "olm_pk_decryption_size"),
	OLM_DL_SYM(pk_decryption, "olm_pk_decryption"),
	OLM_DL_SYM(pk_decryption_last_error, "olm_pk_decryption_last_error"),
	OLM_DL_SYM(clear_pk_decryption, "olm_clear_pk_decryption"),
	OLM_DL_SYM(pk_private_key_length, "olm_pk_private_key_length"),
	OLM_DL_SYM(pk_key_from_private, "olm_pk_key_from_private"),
	OLM_DL_SYM(pickle_pk_decryption_length, "olm_pickle_pk_decryption_length"),
	OLM_DL_SYM(pickle_pk_decryption, "olm_pickle_pk_decryption"),
	OLM_DL_SYM(unpickle_pk_decryption, "olm_unpickle_pk_decryption"),
	OLM_DL_SYM(pk_get_private_key, "olm_pk_get_private_key"),
	OLM_DL_SYM(create_outbound_session_random_length,
		   "olm_create_outbound_session_random_length"),
	OLM_DL_SYM(create_outbound_session, "olm_create_outbound_session"),
	OLM_DL_SYM(encrypt_message_type, "olm_encrypt_message_type"),
	OLM_DL_SYM(encrypt_random_length, "olm_encrypt_random_length"),
	OLM_DL_SYM(encrypt_message_length, "olm_encrypt_message_length"),
	OLM_DL_SYM(encrypt, "olm_encrypt"),
	OLM_DL_SYM(outbound_group_session_size, "olm_outbound_group_session_size"),
	OLM_DL_SYM(outbound_group_session, "olm_outbound_group_session"),
	OLM_DL_SYM(outbound_group_session_last_error, "olm_outbound_group_session_last_error"),
	OLM_DL_SYM(clear_outbound_group_session, "olm_clear_outbound_group_session"),
	OLM_DL_SYM(pickle_outbound_group_session_length,
		   "olm_pickle_outbound_group_session_length"),
	OLM_DL_SYM(pickle_outbound_group_session, "olm_pickle_outbound_group_session"),
	OLM_DL_SYM(unpickle_outbound_group_session, "olm_unpickle_outbound_group_session"),
	OLM_DL_SYM(init_outbound_group_session_random_length,
		   "olm_init_outbound_group_session_random_length"),
	OLM_DL_SYM(init_outbound_group_session, "olm_init_outbound_group_session"),
	OLM_DL_SYM(group_encrypt_message_length, "olm_group_encrypt_message_length"),
	OLM_DL_SYM(group_encrypt, "olm_group_encrypt"),
	OLM_DL_SYM(outbound_group_session_id_length, "olm_outbound_group_session_id_length"),
	OLM_DL_SYM(outbound_group_session_id, "olm_outbound_group_session_id"),
	OLM_DL_SYM(outbound_group_session_message_index,
		   "olm_outbound_group_session_message_index"),
	OLM_DL_SYM(outbound_group_session_key_length, "olm_outbound_group_session_key_length"),
	OLM_DL_SYM(outbound_group_session_key, "olm_outbound_group_session_key"),
};

enum err olm_dl_load(char *why, size_t whylen)
{
	size_t i;

	if (olm_dl_handle)
		return ERR_OK;
	olm_dl_handle = dlopen(OLM_DL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!olm_dl_handle) {
		snprintf(why, whylen,
			 "cannot load %s (%s); install Debian's libolm3 (the "
			 "[matrix] encryption setting needs it)",
			 OLM_DL_SONAME, dlerror());
		return ERR_NOTFOUND;
	}
	for (i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *p = dlsym(olm_dl_handle, syms[i].name);

		if (!p) {
			/* the unpublished fallback key came in 3.2.0 */
			snprintf(why, whylen, "%s has no %s: libolm 3.2 or later is needed",
				 OLM_DL_SONAME, syms[i].name);
			dlclose(olm_dl_handle);
			olm_dl_handle = NULL;
			memset(&olm_dl, 0, sizeof(olm_dl));
			return ERR_NOTFOUND;
		}
		memcpy(syms[i].slot, &p, sizeof(p));
	}
	return ERR_OK;
}
