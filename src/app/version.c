/* One line for the sensor, then one a library, in the words of each library's own version
 * function (libpcap's already starts with its name, as in tcpdump --version). */
#include "app/version.h"

#include <librdkafka/rdkafka.h>
#include <maxminddb.h>
#include <microhttpd.h>
#include <ndpi/ndpi_api.h>
#include <openssl/crypto.h>
#include <pcap/pcap.h>
#include <yaml.h>

void version_print(FILE *out)
{
    fprintf(out, "op25b-watch %s\n", OP25B_VERSION);
    fprintf(out, "%s\n", pcap_lib_version());
    fprintf(out, "nDPI %s\n", ndpi_revision());
    fprintf(out, "librdkafka %s\n", rd_kafka_version_str());
    fprintf(out, "libmaxminddb %s\n", MMDB_lib_version());
    fprintf(out, "libyaml %s\n", yaml_get_version_string());
    fprintf(out, "libmicrohttpd %s\n", MHD_get_version());
    fprintf(out, "%s\n", OpenSSL_version(OPENSSL_VERSION));
}
