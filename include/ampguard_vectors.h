/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The built-in vectors: UDP source ports that reflectors answer from.
 * Slot numbers are stable (table order + 1) because counters are indexed
 * by them. Append only.
 *
 * X(name, port, default action for unsolicited traffic, tracking timeout in
 *   ms, what answers from that port)
 */
#ifndef AMPGUARD_VECTORS_H
#define AMPGUARD_VECTORS_H

#define AG_BUILTIN_VECTORS(X)                                                      \
	X("dns", 53, AG_ACT_DROP, 5000, "DNS resolvers and authoritative servers") \
	X("ntp", 123, AG_ACT_DROP, 10000, "NTP servers (monlist, version)")        \
	X("ws-discovery", 3702, AG_ACT_DROP, 5000, "WS-Discovery devices")         \
	X("arms", 3283, AG_ACT_DROP, 5000, "Apple Remote Management Service")      \
	X("ssdp", 1900, AG_ACT_DROP, 5000, "UPnP SSDP devices")                    \
	X("memcached", 11211, AG_ACT_DROP, 5000, "memcached servers")              \
	X("cldap", 389, AG_ACT_DROP, 5000, "Connectionless LDAP (AD servers)")     \
	X("chargen", 19, AG_ACT_DROP, 5000, "Character generator")                 \
	X("qotd", 17, AG_ACT_DROP, 5000, "Quote of the day")                       \
	X("tftp", 69, AG_ACT_DROP, 5000, "TFTP servers")                           \
	X("portmap", 111, AG_ACT_DROP, 5000, "ONC RPC portmapper")                 \
	X("netbios", 137, AG_ACT_DROP, 5000, "NetBIOS name service")               \
	X("snmp", 161, AG_ACT_DROP, 5000, "SNMP agents (GetBulk)")                 \
	X("slp", 427, AG_ACT_DROP, 5000, "Service Location Protocol")              \
	X("ripv1", 520, AG_ACT_DROP, 30000, "RIPv1 routers")                       \
	X("mssql", 1434, AG_ACT_DROP, 5000, "MS SQL Server browser")               \
	X("rdp", 3389, AG_ACT_DROP, 60000, "Remote Desktop over UDP")              \
	X("openvpn", 1194, AG_ACT_DROP, 60000, "OpenVPN servers")                  \
	X("nat-pmp", 5351, AG_ACT_DROP, 5000, "NAT-PMP gateways")                  \
	X("mdns", 5353, AG_ACT_DROP, 5000, "Multicast DNS responders")             \
	X("coap", 5683, AG_ACT_DROP, 5000, "CoAP devices")                         \
	X("ubiquiti", 10001, AG_ACT_DROP, 5000, "Ubiquiti discovery")              \
	X("tp240", 10074, AG_ACT_DROP, 5000, "Mitel TP-240 phone systems")         \
	X("jenkins", 33848, AG_ACT_DROP, 5000, "Jenkins auto-discovery")           \
	X("dtls-quic", 443, AG_ACT_MONITOR, 60000, "DTLS reflectors; shared with QUIC replies")

#endif /* AMPGUARD_VECTORS_H */
