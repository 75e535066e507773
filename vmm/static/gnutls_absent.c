/* Linked into the static mvmm only (Makefile, STATIC=1): Debian's
 * libmicrohttpd is built with HTTPS support, so its archive refers to these
 * GnuTLS symbols, but mvmm serves plain HTTP on a Unix socket and never asks
 * for TLS (MHD_USE_TLS). Linking GnuTLS and its eight libraries instead
 * would cost ~3 MiB of RSS per VMM: their relocations, and a constructor that
 * loads p11-kit modules (docs/performance.md, "Footprint").
 *
 * Every function fails with GNUTLS_E_UNIMPLEMENTED_FEATURE, so a daemon
 * started with TLS by mistake fails to start instead of serving without it.
 * MHD_init() calls gnutls_global_init() and ignores the result. Signatures
 * are not GnuTLS's: nothing here is called with arguments it reads. */
#define GNUTLS_E_UNIMPLEMENTED_FEATURE (-1250)

/* A variable in GnuTLS (gnutls_alloc_function), used by MHD's PSK path. */
void *gnutls_malloc;

#define ABSENT(name)                                                         \
	int name(void);                                                      \
	int name(void) { return GNUTLS_E_UNIMPLEMENTED_FEATURE; }

ABSENT(gnutls_alpn_set_protocols)
ABSENT(gnutls_bye)
ABSENT(gnutls_certificate_allocate_credentials)
ABSENT(gnutls_certificate_free_credentials)
ABSENT(gnutls_certificate_server_set_request)
ABSENT(gnutls_certificate_set_dh_params)
ABSENT(gnutls_certificate_set_retrieve_function2)
ABSENT(gnutls_certificate_set_retrieve_function3)
ABSENT(gnutls_certificate_set_x509_key_mem)
ABSENT(gnutls_certificate_set_x509_key_mem2)
ABSENT(gnutls_certificate_set_x509_trust_mem)
ABSENT(gnutls_cipher_get)
ABSENT(gnutls_credentials_set)
ABSENT(gnutls_deinit)
ABSENT(gnutls_dh_params_deinit)
ABSENT(gnutls_dh_params_import_pkcs3)
ABSENT(gnutls_dh_params_init)
ABSENT(gnutls_global_deinit)
ABSENT(gnutls_global_init)
ABSENT(gnutls_handshake)
ABSENT(gnutls_init)
ABSENT(gnutls_priority_deinit)
ABSENT(gnutls_priority_init)
ABSENT(gnutls_priority_set)
ABSENT(gnutls_protocol_get_version)
ABSENT(gnutls_psk_allocate_server_credentials)
ABSENT(gnutls_psk_free_server_credentials)
ABSENT(gnutls_psk_set_server_credentials_function)
ABSENT(gnutls_record_check_pending)
ABSENT(gnutls_record_get_direction)
ABSENT(gnutls_record_recv)
ABSENT(gnutls_record_send)
ABSENT(gnutls_session_get_ptr)
ABSENT(gnutls_session_set_ptr)
ABSENT(gnutls_strerror)
ABSENT(gnutls_transport_set_int2)
