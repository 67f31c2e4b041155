/* olm_dl.h -- libolm (Olm and Megolm, Matrix's end-to-end encryption),
 * bound at run time, only when the config turns encryption on.
 *
 * Why not link it: libolm is C++ inside and brings the C++ runtime with it
 * (+2.3 MB resident once loaded into a C process, measured, most of it
 * libstdc++), which `faqbot ask`, `check` and every bot without encryption
 * would carry for nothing;
 * as curl_dl does for libcurl and learn.c for liblinear, it is loaded with
 * dlopen() when the first encrypted bot starts. Its header is still the
 * one the API is documented in: include this header instead of
 * <olm/olm.h>, call olm_dl_load() once, then use olm_* as olm.h
 * documents them.
 *
 * Who may include it: the mx_crypto module alone, src/net/matrix/mx_crypto.c
 * (the device's account), mx_crypto_in.c (its sessions), mx_crypto_out.c
 * (sending) and mx_crypto_xsign.c (its cross-signing keys) (tests/lint.sh
 * holds it so), the one module that calls libolm, so that moving to
 * vodozemac replaces that module and nothing else. */
#ifndef FAQBOT_OLM_DL_H
#define FAQBOT_OLM_DL_H

#include <stddef.h>
#include <stdint.h>

#include <olm/inbound_group_session.h>
#include <olm/outbound_group_session.h>
#include <olm/olm.h>
#include <olm/pk.h>

#include "err.h"

/* The shared object loaded: Debian's libolm3 (3.2.x). */
#define OLM_DL_SONAME "libolm.so.3"

struct olm_dl_api {
	void (*get_library_version)(uint8_t *, uint8_t *, uint8_t *);
	size_t (*error)(void);
	size_t (*account_size)(void);
	OlmAccount *(*account)(void *);
	const char *(*account_last_error)(const OlmAccount *);
	size_t (*clear_account)(OlmAccount *);
	size_t (*pickle_account_length)(const OlmAccount *);
	size_t (*pickle_account)(OlmAccount *, const void *, size_t, void *, size_t);
	size_t (*unpickle_account)(OlmAccount *, const void *, size_t, void *, size_t);
	size_t (*create_account_random_length)(const OlmAccount *);
	size_t (*create_account)(OlmAccount *, void *, size_t);
	size_t (*account_identity_keys_length)(const OlmAccount *);
	size_t (*account_identity_keys)(OlmAccount *, void *, size_t);
	size_t (*account_signature_length)(const OlmAccount *);
	size_t (*account_sign)(OlmAccount *, const void *, size_t, void *, size_t);
	size_t (*account_one_time_keys_length)(const OlmAccount *);
	size_t (*account_one_time_keys)(OlmAccount *, void *, size_t);
	size_t (*account_mark_keys_as_published)(OlmAccount *);
	size_t (*account_max_number_of_one_time_keys)(const OlmAccount *);
	size_t (*account_generate_one_time_keys_random_length)(const OlmAccount *, size_t);
	size_t (*account_generate_one_time_keys)(OlmAccount *, size_t, void *, size_t);
	size_t (*account_generate_fallback_key_random_length)(const OlmAccount *);
	size_t (*account_generate_fallback_key)(OlmAccount *, void *, size_t);
	size_t (*account_unpublished_fallback_key_length)(const OlmAccount *);
	size_t (*account_unpublished_fallback_key)(OlmAccount *, void *, size_t);
	size_t (*utility_size)(void);
	OlmUtility *(*utility)(void *);
	const char *(*utility_last_error)(const OlmUtility *);
	size_t (*clear_utility)(OlmUtility *);
	size_t (*ed25519_verify)(OlmUtility *, const void *, size_t, const void *, size_t, void *,
				 size_t);
	/* sessions (mx_crypto_in.c): Olm from members' devices, Megolm inbound */
	size_t (*session_size)(void);
	OlmSession *(*session)(void *);
	const char *(*session_last_error)(const OlmSession *);
	size_t (*clear_session)(OlmSession *);
	size_t (*pickle_session_length)(const OlmSession *);
	size_t (*pickle_session)(OlmSession *, const void *, size_t, void *, size_t);
	size_t (*unpickle_session)(OlmSession *, const void *, size_t, void *, size_t);
	size_t (*create_inbound_session_from)(OlmSession *, OlmAccount *, const void *, size_t,
					      void *, size_t);
	size_t (*matches_inbound_session_from)(OlmSession *, const void *, size_t, void *, size_t);
	size_t (*remove_one_time_keys)(OlmAccount *, OlmSession *);
	size_t (*decrypt_max_plaintext_length)(OlmSession *, size_t, void *, size_t);
	size_t (*decrypt)(OlmSession *, size_t, void *, size_t, void *, size_t);
	size_t (*inbound_group_session_size)(void);
	OlmInboundGroupSession *(*inbound_group_session)(void *);
	const char *(*inbound_group_session_last_error)(const OlmInboundGroupSession *);
	size_t (*clear_inbound_group_session)(OlmInboundGroupSession *);
	size_t (*pickle_inbound_group_session_length)(const OlmInboundGroupSession *);
	size_t (*pickle_inbound_group_session)(OlmInboundGroupSession *, const void *, size_t,
					       void *, size_t);
	size_t (*unpickle_inbound_group_session)(OlmInboundGroupSession *, const void *, size_t,
						 void *, size_t);
	size_t (*init_inbound_group_session)(OlmInboundGroupSession *, const uint8_t *, size_t);
	size_t (*import_inbound_group_session)(OlmInboundGroupSession *, const uint8_t *, size_t);
	size_t (*group_decrypt_max_plaintext_length)(OlmInboundGroupSession *, uint8_t *, size_t);
	size_t (*group_decrypt)(OlmInboundGroupSession *, uint8_t *, size_t, uint8_t *, size_t,
				uint32_t *);
	size_t (*inbound_group_session_id_length)(const OlmInboundGroupSession *);
	size_t (*inbound_group_session_id)(OlmInboundGroupSession *, uint8_t *, size_t);
	uint32_t (*inbound_group_session_first_known_index)(const OlmInboundGroupSession *);
	/* cross-signing (mx_crypto_xsign.c): ed25519 keys from a seed, and
	 * the pk-decryption object whose pickle keeps a seed encrypted */
	size_t (*pk_signing_size)(void);
	OlmPkSigning *(*pk_signing)(void *);
	const char *(*pk_signing_last_error)(const OlmPkSigning *);
	size_t (*clear_pk_signing)(OlmPkSigning *);
	size_t (*pk_signing_key_from_seed)(OlmPkSigning *, void *, size_t, const void *, size_t);
	size_t (*pk_signing_seed_length)(void);
	size_t (*pk_signing_public_key_length)(void);
	size_t (*pk_signature_length)(void);
	size_t (*pk_sign)(OlmPkSigning *, const uint8_t *, size_t, uint8_t *, size_t);
	size_t (*pk_decryption_size)(void);
	OlmPkDecryption *(*pk_decryption)(void *);
	const char *(*pk_decryption_last_error)(const OlmPkDecryption *);
	size_t (*clear_pk_decryption)(OlmPkDecryption *);
	size_t (*pk_private_key_length)(void);
	size_t (*pk_key_from_private)(OlmPkDecryption *, void *, size_t, const void *, size_t);
	size_t (*pickle_pk_decryption_length)(const OlmPkDecryption *);
	size_t (*pickle_pk_decryption)(OlmPkDecryption *, const void *, size_t, void *, size_t);
	size_t (*unpickle_pk_decryption)(OlmPkDecryption *, const void *, size_t, void *, size_t,
					 void *, size_t);
	size_t (*pk_get_private_key)(OlmPkDecryption *, void *, size_t);
	/* sending (mx_crypto_out.c): Olm to members' devices, Megolm outbound */
	size_t (*create_outbound_session_random_length)(const OlmSession *);
	size_t (*create_outbound_session)(OlmSession *, const OlmAccount *, const void *, size_t,
					  const void *, size_t, void *, size_t);
	size_t (*encrypt_message_type)(const OlmSession *);
	size_t (*encrypt_random_length)(const OlmSession *);
	size_t (*encrypt_message_length)(const OlmSession *, size_t);
	size_t (*encrypt)(OlmSession *, const void *, size_t, void *, size_t, void *, size_t);
	size_t (*outbound_group_session_size)(void);
	OlmOutboundGroupSession *(*outbound_group_session)(void *);
	const char *(*outbound_group_session_last_error)(const OlmOutboundGroupSession *);
	size_t (*clear_outbound_group_session)(OlmOutboundGroupSession *);
	size_t (*pickle_outbound_group_session_length)(const OlmOutboundGroupSession *);
	size_t (*pickle_outbound_group_session)(OlmOutboundGroupSession *, const void *, size_t,
						void *, size_t);
	size_t (*unpickle_outbound_group_session)(OlmOutboundGroupSession *, const void *, size_t,
						  void *, size_t);
	size_t (*init_outbound_group_session_random_length)(const OlmOutboundGroupSession *);
	size_t (*init_outbound_group_session)(OlmOutboundGroupSession *, uint8_t *, size_t);
	size_t (*group_encrypt_message_length)(OlmOutboundGroupSession *, size_t);
	size_t (*group_encrypt)(OlmOutboundGroupSession *, const uint8_t *, size_t, uint8_t *,
				size_t);
	size_t (*outbound_group_session_id_length)(const OlmOutboundGroupSession *);
	size_t (*outbound_group_session_id)(OlmOutboundGroupSession *, uint8_t *, size_t);
	uint32_t (*outbound_group_session_message_index)(OlmOutboundGroupSession *);
	size_t (*outbound_group_session_key_length)(const OlmOutboundGroupSession *);
	size_t (*outbound_group_session_key)(OlmOutboundGroupSession *, uint8_t *, size_t);
};

/* The table, filled by olm_dl_load(). Calling through it before a
 * successful load is a bug (the pointers are NULL). */
extern struct olm_dl_api olm_dl;

/* olm_dl_load loads libolm and binds every function above. Safe to call
 * again (it loads once). On failure (ERR_NOTFOUND), why says which library
 * or symbol is missing and what to install. */
enum err olm_dl_load(char *why, size_t whylen);

#define olm_get_library_version                 olm_dl.get_library_version
#define olm_error                               olm_dl.error
#define olm_account_size                        olm_dl.account_size
#define olm_account                             olm_dl.account
#define olm_account_last_error                  olm_dl.account_last_error
#define olm_clear_account                       olm_dl.clear_account
#define olm_pickle_account_length               olm_dl.pickle_account_length
#define olm_pickle_account                      olm_dl.pickle_account
#define olm_unpickle_account                    olm_dl.unpickle_account
#define olm_create_account_random_length        olm_dl.create_account_random_length
#define olm_create_account                      olm_dl.create_account
#define olm_account_identity_keys_length        olm_dl.account_identity_keys_length
#define olm_account_identity_keys               olm_dl.account_identity_keys
#define olm_account_signature_length            olm_dl.account_signature_length
#define olm_account_sign                        olm_dl.account_sign
#define olm_account_one_time_keys_length        olm_dl.account_one_time_keys_length
#define olm_account_one_time_keys               olm_dl.account_one_time_keys
#define olm_account_mark_keys_as_published      olm_dl.account_mark_keys_as_published
#define olm_account_max_number_of_one_time_keys olm_dl.account_max_number_of_one_time_keys
#define olm_account_generate_one_time_keys_random_length \
	olm_dl.account_generate_one_time_keys_random_length
#define olm_account_generate_one_time_keys olm_dl.account_generate_one_time_keys
#define olm_account_generate_fallback_key_random_length \
	olm_dl.account_generate_fallback_key_random_length
#define olm_account_generate_fallback_key           olm_dl.account_generate_fallback_key
#define olm_account_unpublished_fallback_key_length olm_dl.account_unpublished_fallback_key_length
#define olm_account_unpublished_fallback_key        olm_dl.account_unpublished_fallback_key
#define olm_utility_size                            olm_dl.utility_size
#define olm_utility                                 olm_dl.utility
#define olm_utility_last_error                      olm_dl.utility_last_error
#define olm_clear_utility                           olm_dl.clear_utility
#define olm_ed25519_verify                          olm_dl.ed25519_verify
#define olm_session_size                            olm_dl.session_size
#define olm_session                                 olm_dl.session
#define olm_session_last_error                      olm_dl.session_last_error
#define olm_clear_session                           olm_dl.clear_session
#define olm_pickle_session_length                   olm_dl.pickle_session_length
#define olm_pickle_session                          olm_dl.pickle_session
#define olm_unpickle_session                        olm_dl.unpickle_session
#define olm_create_inbound_session_from             olm_dl.create_inbound_session_from
#define olm_matches_inbound_session_from            olm_dl.matches_inbound_session_from
#define olm_remove_one_time_keys                    olm_dl.remove_one_time_keys
#define olm_decrypt_max_plaintext_length            olm_dl.decrypt_max_plaintext_length
#define olm_decrypt                                 olm_dl.decrypt
#define olm_inbound_group_session_size              olm_dl.inbound_group_session_size
#define olm_inbound_group_session                   olm_dl.inbound_group_session
#define olm_inbound_group_session_last_error        olm_dl.inbound_group_session_last_error
#define olm_clear_inbound_group_session             olm_dl.clear_inbound_group_session
#define olm_pickle_inbound_group_session_length     olm_dl.pickle_inbound_group_session_length
#define olm_pickle_inbound_group_session            olm_dl.pickle_inbound_group_session
#define olm_unpickle_inbound_group_session          olm_dl.unpickle_inbound_group_session
#define olm_init_inbound_group_session              olm_dl.init_inbound_group_session
#define olm_import_inbound_group_session            olm_dl.import_inbound_group_session
#define olm_group_decrypt_max_plaintext_length      olm_dl.group_decrypt_max_plaintext_length
#define olm_group_decrypt                           olm_dl.group_decrypt
#define olm_inbound_group_session_id_length         olm_dl.inbound_group_session_id_length
#define olm_inbound_group_session_id                olm_dl.inbound_group_session_id
#define olm_inbound_group_session_first_known_index olm_dl.inbound_group_session_first_known_index

#define olm_pk_signing_size                       olm_dl.pk_signing_size
#define olm_pk_signing                            olm_dl.pk_signing
#define olm_pk_signing_last_error                 olm_dl.pk_signing_last_error
#define olm_clear_pk_signing                      olm_dl.clear_pk_signing
#define olm_pk_signing_key_from_seed              olm_dl.pk_signing_key_from_seed
#define olm_pk_signing_seed_length                olm_dl.pk_signing_seed_length
#define olm_pk_signing_public_key_length          olm_dl.pk_signing_public_key_length
#define olm_pk_signature_length                   olm_dl.pk_signature_length
#define olm_pk_sign                               olm_dl.pk_sign
#define olm_pk_decryption_size                    olm_dl.pk_decryption_size
#define olm_pk_decryption                         olm_dl.pk_decryption
#define olm_pk_decryption_last_error              olm_dl.pk_decryption_last_error
#define olm_clear_pk_decryption                   olm_dl.clear_pk_decryption
#define olm_pk_private_key_length                 olm_dl.pk_private_key_length
#define olm_pk_key_from_private                   olm_dl.pk_key_from_private
#define olm_pickle_pk_decryption_length           olm_dl.pickle_pk_decryption_length
#define olm_pickle_pk_decryption                  olm_dl.pickle_pk_decryption
#define olm_unpickle_pk_decryption                olm_dl.unpickle_pk_decryption
#define olm_pk_get_private_key                    olm_dl.pk_get_private_key
#define olm_create_outbound_session_random_length olm_dl.create_outbound_session_random_length
#define olm_create_outbound_session               olm_dl.create_outbound_session
#define olm_encrypt_message_type                  olm_dl.encrypt_message_type
#define olm_encrypt_random_length                 olm_dl.encrypt_random_length
#define olm_encrypt_message_length                olm_dl.encrypt_message_length
#define olm_encrypt                               olm_dl.encrypt
#define olm_outbound_group_session_size           olm_dl.outbound_group_session_size
#define olm_outbound_group_session                olm_dl.outbound_group_session
#define olm_outbound_group_session_last_error     olm_dl.outbound_group_session_last_error
#define olm_clear_outbound_group_session          olm_dl.clear_outbound_group_session
#define olm_pickle_outbound_group_session_length  olm_dl.pickle_outbound_group_session_length
#define olm_pickle_outbound_group_session         olm_dl.pickle_outbound_group_session
#define olm_unpickle_outbound_group_session       olm_dl.unpickle_outbound_group_session
#define olm_init_outbound_group_session_random_length \
	olm_dl.init_outbound_group_session_random_length
#define olm_init_outbound_group_session          olm_dl.init_outbound_group_session
#define olm_group_encrypt_message_length         olm_dl.group_encrypt_message_length
#define olm_group_encrypt                        olm_dl.group_encrypt
#define olm_outbound_group_session_id_length     olm_dl.outbound_group_session_id_length
#define olm_outbound_group_session_id            olm_dl.outbound_group_session_id
#define olm_outbound_group_session_message_index olm_dl.outbound_group_session_message_index
#define olm_outbound_group_session_key_length    olm_dl.outbound_group_session_key_length
#define olm_outbound_group_session_key           olm_dl.outbound_group_session_key

#endif
