/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The built-in vectors: UDP source ports that reflectors answer from.
 * Slot numbers are stable (table order + 1) because counters are indexed
 * by them. Append only.
 *
 * AG_VECTOR(name, port, default action, what answers from that port)
 */
#ifndef AMPGUARD_VECTORS_H
#define AMPGUARD_VECTORS_H

#define AG_BUILTIN_VECTORS(X)                                                \
	X("dns", 53, AG_ACT_DROP, "DNS resolvers and authoritative servers") \
	X("ntp", 123, AG_ACT_DROP, "NTP servers (monlist, version)")         \
	X("ws-discovery", 3702, AG_ACT_DROP, "WS-Discovery devices")         \
	X("arms", 3283, AG_ACT_DROP, "Apple Remote Management Service")      \
	X("ssdp", 1900, AG_ACT_DROP, "UPnP SSDP devices")                    \
	X("memcached", 11211, AG_ACT_DROP, "memcached servers")              \
	X("cldap", 389, AG_ACT_DROP, "Connectionless LDAP (AD servers)")     \
	X("chargen", 19, AG_ACT_DROP, "Character generator")                 \
	X("qotd", 17, AG_ACT_DROP, "Quote of the day")                       \
	X("tftp", 69, AG_ACT_DROP, "TFTP servers")                           \
	X("portmap", 111, AG_ACT_DROP, "ONC RPC portmapper")                 \
	X("netbios", 137, AG_ACT_DROP, "NetBIOS name service")               \
	X("snmp", 161, AG_ACT_DROP, "SNMP agents (GetBulk)")                 \
	X("slp", 427, AG_ACT_DROP, "Service Location Protocol")              \
	X("ripv1", 520, AG_ACT_DROP, "RIPv1 routers")                        \
	X("mssql", 1434, AG_ACT_DROP, "MS SQL Server browser")               \
	X("rdp", 3389, AG_ACT_DROP, "Remote Desktop over UDP")               \
	X("openvpn", 1194, AG_ACT_DROP, "OpenVPN servers")                   \
	X("nat-pmp", 5351, AG_ACT_DROP, "NAT-PMP gateways")                  \
	X("mdns", 5353, AG_ACT_DROP, "Multicast DNS responders")             \
	X("coap", 5683, AG_ACT_DROP, "CoAP devices")                         \
	X("ubiquiti", 10001, AG_ACT_DROP, "Ubiquiti discovery")              \
	X("tp240", 10074, AG_ACT_DROP, "Mitel TP-240 phone systems")         \
	X("jenkins", 33848, AG_ACT_DROP, "Jenkins auto-discovery")           \
	X("dtls-quic", 443, AG_ACT_MONITOR, "DTLS reflectors; shared with QUIC replies")

#endif /* AMPGUARD_VECTORS_H */
