/* What the key-file and SipEndpoint.config loaders share: key tables, setters and checks. */
#pragma once

#include "config/config.h"

G_BEGIN_DECLS

/* Larger config files are refused (a config is a few KiB; this stops a wrong path from
 * filling memory). */
#define SP_CONFIG_MAX_FILE_SIZE (1024 * 1024)

/* The groups of global keys; [connection N] keys go through sp_connection_config_set(). */
typedef enum {
	SP_CONFIG_GROUP_DAEMON,
	SP_CONFIG_GROUP_POLICY, /* also the connection defaults: keepalive-interval, ... */
	SP_CONFIG_GROUP_AUDIO,
} SpConfigGroup;

const char *sp_config_group_name(SpConfigGroup group);
gboolean sp_config_has_key(SpConfigGroup group, const char *key);
/* Sets a global key; the message does not repeat the key. */
gboolean sp_config_set(SpConfig *config, SpConfigGroup group, const char *key, const char *value,
		       GError **error);
/*
 * Cross-key checks of the global groups (rtp-port-min below rtp-port-max, the [policy]
 * connection defaults). On failure *group and *key name the culprit, preferring a key found in
 * present (a set of "group/key" strings the file gave) so that the error points at a line the
 * user wrote; the message does not repeat the key.
 */
gboolean sp_config_check(SpConfig *config, GHashTable *present, SpConfigGroup *group,
			 const char **key, GError **error);

/* sp_connection_config_set() with relative paths taken from base_dir (NULL: the working
 * directory). */
gboolean sp_connection_config_set_full(SpConnectionConfig *c, const char *key, const char *value,
				       const char *base_dir, GError **error);
/*
 * sp_connection_config_validate() for a loader: on failure *key names the key at fault,
 * preferring one in present (a set of keys the file gave), and the message does not repeat it.
 */
gboolean sp_connection_config_check(SpConnectionConfig *c, GHashTable *present, const char **key,
				    GError **error);
/* When c has neither password nor password-file, reads the systemd credential
 * softphoned-password-<id> or softphoned-password from $CREDENTIALS_DIRECTORY, if there. */
gboolean sp_connection_config_load_credential(SpConnectionConfig *c, GError **error);

/* The absolute directory of a config file: relative paths in it are taken from there. */
char *sp_config_base_dir(const char *path);
void sp_config_add_warning(SpConfig *config, const char *format, ...) G_GNUC_PRINTF(2, 3);
/* A value for an error message: control characters escaped, long values cut. */
char *sp_config_quote(const char *value);
/* Frees a string that held a secret, overwriting it first. */
void sp_config_secret_free(char *secret);

/* Records what became of a SipEndpoint.config setting (copies every string). */
void sp_config_add_mapping(SpConfig *config, SpConfigMappingKind kind, const char *setting,
			   int line, int column, const char *value, const char *key,
			   const char *mapped, const char *note);

/*
 * sp_config_load() of a file already in memory: data[length] must be NUL (the file may hold
 * no other). A UTF-8 byte order mark is skipped, UTF-16 refused, and the format found by the
 * first character that is not a blank. path names the file in messages and is where relative
 * paths in it are taken from. Used by sp_config_load() and the fuzz targets.
 */
SpConfig *sp_config_load_data(const char *path, const char *data, gsize length, GError **error);

/* The two formats; data is NUL-terminated, without a byte order mark. */
SpConfig *sp_config_load_keyfile(const char *path, const char *data, gsize length, GError **error);
SpConfig *sp_config_load_xml(const char *path, const char *data, gsize length, GError **error);

G_END_DECLS
