#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/: a few realistic samples per target.

The seeds are committed; rerun this only to change them. Certificates are made with the
openssl command line (fresh keys, so those files differ on every run). Seed inputs of
smtp_reply and http_head start with the 3 control bytes their fuzzers read (see there).
    python3 fuzz/make_seeds.py
"""
import os
import shutil
import struct
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(ROOT, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def ctl(options, split):
    return bytes([options, (split >> 8) & 0xFF, split & 0xFF])


# ---- smtp_reply -------------------------------------------------------------------------
def smtp():
    seeds = {
        "greeting_postfix": (0x00, 20, "220 mx.example.com ESMTP Postfix (Debian/GNU)\r\n"),
        "ehlo_postfix": (0x04, 60,
                         "250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                         "250-VRFY\r\n250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n"
                         "250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"),
        "ehlo_exim": (0x08, 90,
                      "250-mail.example.org Hello prober.example.net [192.0.2.7]\r\n"
                      "250-SIZE 52428800\r\n250-8BITMIME\r\n250-PIPELINING\r\n"
                      "250-PIPE_CONNECT\r\n250-AUTH=LOGIN PLAIN\r\n250-STARTTLS\r\n250 HELP\r\n"),
        "starttls_injection": (0x0C, 31, "220 2.0.0 Ready to start TLS\r\n\x16\x03\x01\x00\xa5"),
        "greeting_554_blocklist": (0x00, 100,
                                   "554 5.7.1 Service unavailable; Client host [192.0.2.1] "
                                   "blocked using zen.spamhaus.org; "
                                   "https://www.spamhaus.org/query/ip/192.0.2.1\r\n"),
        "pipelined_bare_lf": (0x10, 7, "220 hi\n250-a.example\n250-AUTH LOGIN\n250 STARTTLS\n221 bye\n"),
        "greet_pause_partial": (0x00, 25, "220-mx.example.com ESMTP\r\n220-please wait"),
        "tempfail_bare_code": (0x00, 3, "451 4.3.2 Please try again later\r\n250\r\n"),
        "mixed_codes": (0x00, 9, "250-first\r\n251 second\r\n"),
        "small_limits_long_line": (0x01, 40, "250-" + "x" * 70 + "\r\n250 ok\r\n"),
        "starttls_refused": (0x02, 5, "454 4.7.0 TLS not available due to local problem\r\n"),
    }
    for name, (opt, split, text) in seeds.items():
        write("smtp_reply", name, ctl(opt, split) + text.encode("latin-1"))


# ---- http_head --------------------------------------------------------------------------
POLICY = ("version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: *.example.net\n"
          "max_age: 604800\n")


def chunked(body, sizes, ext=False, trailer=""):
    out, at = "", 0
    for i, n in enumerate(sizes):
        piece = body[at:at + n]
        at += n
        out += "%x%s\r\n%s\r\n" % (len(piece), ";ext=1" if ext and i == 0 else "", piece)
    if at < len(body):
        out += "%x\r\n%s\r\n" % (len(body) - at, body[at:])
    return out + "0\r\n" + trailer + "\r\n"


def http():
    seeds = {
        "200_content_length": (0x00, 40,
                               "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
                               "Date: Sun, 01 Jun 2025 00:00:00 GMT\r\n"
                               "Content-Type: text/plain\r\nContent-Length: %d\r\n"
                               "Connection: close\r\n\r\n%s" % (len(POLICY), POLICY)),
        "200_chunked": (0x04, 80,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n"
                        + chunked(POLICY, [26, 31], ext=True, trailer="X-Trailer: yes\r\n")),
        "301_redirect": (0x00, 10,
                         "HTTP/1.1 301 Moved Permanently\r\nLocation: https://example.com/\r\n"
                         "Content-Length: 0\r\n\r\n"),
        "404_html": (0x08, 60,
                     "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 22\r\n"
                     "\r\n<h1>404 Not Found</h1>"),
        "100_continue": (0x00, 25, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
                                   "Content-Length: 2\r\n\r\nok"),
        "http10_bare_lf": (0x01, 30, "HTTP/1.0 200 OK\nContent-Type: text/plain\n\n" + POLICY),
        "smtp_banner": (0x00, 3, "220 mx.example.com ESMTP\r\n"),
        "chunked_only": (0x10, 5, chunked("hello world, this is a body", [5, 1, 7])),
        "duplicate_lengths": (0x02, 50, "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n"
                                        "Transfer-Encoding: gzip, chunked\r\n\r\nhello"),
    }
    for name, (opt, split, text) in seeds.items():
        write("http_head", name, ctl(opt, split) + text.encode())


# ---- dns_message ------------------------------------------------------------------------
def name(n):
    out = b""
    for label in n.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


class Msg:
    """A DNS response built by hand; names may be compressed via ptr()."""

    def __init__(self, qname, qtype, flags=0x8180):
        self.buf = bytearray(struct.pack(">HHHHHH", 0x1234, flags, 1, 0, 0, 0))
        self.buf += name(qname) + struct.pack(">HH", qtype, 1)
        self.counts = [1, 0, 0, 0]

    @staticmethod
    def ptr(offset):
        return struct.pack(">H", 0xC000 | offset)

    def rr(self, section, owner, rtype, rdata, ttl=300):
        self.buf += owner + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata
        self.counts[section] += 1
        return self

    def bytes(self):
        b = bytearray(self.buf)
        b[4:12] = struct.pack(">HHHH", *self.counts)
        return bytes(b)


def txt(*strings):
    return b"".join(bytes([len(s)]) + s.encode() for s in strings)


def dns():
    q = Msg.ptr(12)  # the question name
    m = Msg("example.com", 15)
    m.rr(1, q, 15, struct.pack(">H", 10) + name("mx1.example.com"))
    m.rr(1, q, 15, struct.pack(">H", 20) + b"\x03mx2" + Msg.ptr(12))
    write("dns_message", "mx_compressed", m.bytes())

    m = Msg("www.example.com", 1)
    m.rr(1, q, 5, name("a.example.net"))
    m.rr(1, name("a.example.net"), 1, bytes([192, 0, 2, 1]))
    m.rr(1, name("a.example.net"), 1, bytes([192, 0, 2, 2]))
    write("dns_message", "cname_chain_a", m.bytes())

    m = Msg("mx1.example.com", 28)
    m.rr(1, q, 28, bytes.fromhex("20010db8000000000000000000000025"))
    write("dns_message", "aaaa", m.bytes())

    m = Msg("_mta-sts.example.com", 16)
    m.rr(1, q, 16, txt("v=STSv1; id=2025060", "1T000000Z;"))
    m.rr(1, q, 16, txt("v=spf1 -all"))
    write("dns_message", "txt_mta_sts", m.bytes())

    m = Msg("_smtp._tls.example.com", 16)
    m.rr(1, q, 16, txt("v=TLSRPTv1; rua=mailto:tlsrpt@example.com"))
    write("dns_message", "txt_tlsrpt", m.bytes())

    m = Msg("_25._tcp.mx1.example.com", 52, flags=0x81a0)  # AD set
    m.rr(1, q, 52, bytes([3, 1, 1]) + bytes(range(32)))
    m.rr(1, q, 52, bytes([2, 0, 2]) + bytes(range(64)))
    m.rr(1, q, 52, bytes([3, 1, 1]) + bytes(range(31)))  # malformed: short digest
    m.rr(1, q, 52, bytes([3, 1]))  # shorter than the three fixed fields
    write("dns_message", "tlsa_rrset", m.bytes())

    m = Msg("1.2.0.192.in-addr.arpa", 12)
    m.rr(1, q, 12, name("mx1.example.com"))
    m.rr(1, q, 12, name("192-0-2-1.dynamic.example.net"))
    write("dns_message", "ptr_two_names", m.bytes())

    m = Msg("nope.example.com", 15, flags=0x8183)
    soa = name("ns1.example.com") + name("hostmaster.example.com") + struct.pack(
        ">IIIII", 2025060101, 7200, 3600, 1209600, 300)
    m.rr(2, name("example.com"), 6, soa)
    write("dns_message", "nxdomain_soa", m.bytes())

    m = Msg("nomail.example.com", 15)
    m.rr(1, q, 15, struct.pack(">H", 0) + b"\0")
    write("dns_message", "null_mx", m.bytes())

    m = Msg("example.com", 15, flags=0x81A0)  # RA + AD
    m.rr(1, q, 15, struct.pack(">H", 10) + name("mx.example.com"))
    m.buf += b"\0" + struct.pack(">HHIH", 41, 1232, 0x8000, 0)  # OPT with DO
    m.counts[3] += 1
    write("dns_message", "mx_edns_ad", m.bytes())

    m = Msg("a.example.com", 15)  # CNAME loop: a -> b -> a
    m.rr(1, q, 5, name("b.example.com"))
    m.rr(1, name("b.example.com"), 5, b"\x01a\x07example\x03com\x00")
    write("dns_message", "cname_loop", m.bytes())

    m = Msg("c0.example.com", 1)  # 17 CNAMEs: one more than FollowAnswerChain follows
    for i in range(17):
        owner = q if i == 0 else name("c%d.example.com" % i)
        m.rr(1, owner, 5, name("c%d.example.com" % (i + 1)))
    m.rr(1, name("c17.example.com"), 1, bytes([192, 0, 2, 17]))
    write("dns_message", "cname_chain_too_long", m.bytes())

    m = Msg("Mail.Example.COM", 1, flags=0x8182)  # SERVFAIL, mixed case
    write("dns_message", "servfail", m.bytes())


# ---- mta_sts_policy ---------------------------------------------------------------------
def mta_sts():
    write("mta_sts_policy", "enforce_crlf",
          "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: mx2.example.com\r\n"
          "max_age: 604800\r\n")
    write("mta_sts_policy", "testing_wildcard",
          "version: STSv1\nmode: testing\nmx: *.mail.example.net\nmx: mail.example.org\n"
          "max_age: 86400")
    write("mta_sts_policy", "none", "version: STSv1\nmode: none\nmax_age: 31557600\n")
    write("mta_sts_policy", "extensions_repeats",
          "version: STSv1\nmode: enforce\nmode: testing\nmx: mx.example.com\n"
          "max_age: 1209600\nx_comment: h\u00e9llo w\u00f6rld\n\n".encode())
    write("mta_sts_policy", "txt_records",
          b"v=STSv1; id=20250601T000000Z;\0v=spf1 include:_spf.example.com ~all\0"
          b"google-site-verification=abc")
    write("mta_sts_policy", "txt_two_ids", b"v=STSv1;id=one;id=two;ext=1 ")
    write("mta_sts_policy", "content_type", "text/plain; charset=utf-8")
    write("mta_sts_policy", "bom_html", b"\xef\xbb\xbf<html><body>404</body></html>")


# ---- tlsrpt -----------------------------------------------------------------------------
def tlsrpt():
    write("tlsrpt", "mailto", "v=TLSRPTv1; rua=mailto:tlsrpt@example.com")
    write("tlsrpt", "two_uris",
          "v=TLSRPTv1;rua=mailto:reports@example.com, https://tlsrpt.example.com/v1/report;")
    write("tlsrpt", "with_spf",
          b"v=spf1 include:_spf.example.com ~all\0"
          b"v=TLSRPTv1; rua=https://[2001:db8::1]:8443/tlsrpt?x=%20#f")
    write("tlsrpt", "dmarc_size_suffix", "v=TLSRPTv1; rua=mailto:a@example.com!10m")
    write("tlsrpt", "wrong_case", "v=TLSRPTv1; RUA=mailto:a@example.com; ext=v")
    write("tlsrpt", "uri_only", "https://user@reports.example.com:443/path?q=1")


# ---- certificate ------------------------------------------------------------------------
def certificate():
    tmp = tempfile.mkdtemp()

    def run(*args):
        subprocess.run(["openssl", *args], cwd=tmp, check=True, capture_output=True)

    def der(pem):
        run("x509", "-in", pem, "-outform", "DER", "-out", pem + ".der")
        with open(os.path.join(tmp, pem + ".der"), "rb") as f:
            return f.read()

    def ext(name, text):
        with open(os.path.join(tmp, name), "w") as f:
            f.write(text)

    try:
        # EC P-256 self-signed leaf with DNS, wildcard and IP SANs.
        ext("leaf.ext", "subjectAltName=DNS:mx.example.com,DNS:*.example.com,IP:192.0.2.1,"
                        "IP:2001:db8::25\n")
        run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ec.key", "-out", "ec.pem", "-days", "90", "-subj",
            "/CN=mx.example.com/O=Example", "-addext",
            "subjectAltName=DNS:mx.example.com,DNS:*.example.com,IP:192.0.2.1,IP:2001:db8::25")
        write("certificate", "ec_selfsigned_sans", der("ec.pem"))

        # Root (EC) -> intermediate (EC) -> leaf (RSA 2048): the presented chain leaf, int, root.
        run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "root.key", "-out", "root.pem", "-days", "3650", "-subj", "/CN=Fuzz Root",
            "-addext", "basicConstraints=critical,CA:true", "-addext",
            "keyUsage=critical,keyCertSign,cRLSign")
        run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "int.key", "-out", "int.csr", "-subj", "/CN=Fuzz Intermediate")
        ext("int.ext", "basicConstraints=critical,CA:true,pathlen:0\n"
                       "keyUsage=critical,keyCertSign,cRLSign\n")
        run("x509", "-req", "-in", "int.csr", "-CA", "root.pem", "-CAkey", "root.key",
            "-CAcreateserial", "-days", "1825", "-extfile", "int.ext", "-out", "int.pem")
        run("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa.key", "-out",
            "rsa.csr", "-subj", "/CN=mail.example.org")
        ext("rsa.ext", "subjectAltName=DNS:mail.example.org\nextendedKeyUsage=serverAuth\n")
        run("x509", "-req", "-in", "rsa.csr", "-CA", "int.pem", "-CAkey", "int.key",
            "-CAcreateserial", "-days", "365", "-extfile", "rsa.ext", "-out", "rsa.pem")
        leaf, inter, root = der("rsa.pem"), der("int.pem"), der("root.pem")
        write("certificate", "chain_leaf_int_root", leaf + inter + root)
        write("certificate", "chain_leaf_root_int_misordered", leaf + root + inter)
        write("certificate", "chain_leaf_only_incomplete", leaf + root)

        # Ed25519, CN only (no SAN).
        run("req", "-x509", "-newkey", "ed25519", "-nodes", "-keyout", "ed.key", "-out",
            "ed.pem", "-days", "30", "-subj", "/CN=mx.example.com")
        write("certificate", "ed25519_cn_only", der("ed.pem"))

        # Other key types, for DescribeCertificate's key facts.
        run("req", "-x509", "-newkey", "rsa-pss", "-pkeyopt", "rsa_keygen_bits:2048", "-nodes",
            "-keyout", "pss.key", "-out", "pss.pem", "-days", "30", "-subj", "/CN=pss.example")
        write("certificate", "rsa_pss", der("pss.pem"))
        run("genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "dsa_paramgen_bits:1024",
            "-out", "dsa.param")
        run("req", "-x509", "-newkey", "dsa:dsa.param", "-nodes", "-keyout", "dsa.key",
            "-out", "dsa.pem", "-days", "30", "-subj", "/CN=dsa.example")
        write("certificate", "dsa1024", der("dsa.pem"))
        run("req", "-x509", "-newkey", "ed448", "-nodes", "-keyout", "ed448.key", "-out",
            "ed448.pem", "-days", "30", "-subj", "/CN=ed448.example", "-addext",
            "subjectAltName=DNS:ed448.example")
        write("certificate", "ed448", der("ed448.pem"))

        # RSA 1024 with SHA-1, long expired, UTF-8 subject.
        ext("ca.cnf", "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\n"
                      "serial = serial\npolicy = p\ncopy_extensions = copy\n"
                      "[p]\ncommonName = supplied\norganizationName = optional\n")
        ext("index.txt", "")
        ext("serial", "01\n")
        run("req", "-new", "-newkey", "rsa:1024", "-nodes", "-keyout", "old.key", "-out",
            "old.csr", "-subj", "/CN=alt.example.com/O=M\u00fcller GmbH", "-utf8",
            "-addext", "subjectAltName=DNS:alt.example.com")
        run("ca", "-config", "ca.cnf", "-selfsign", "-keyfile", "old.key", "-in", "old.csr",
            "-startdate", "20000101000000Z", "-enddate", "20010101000000Z", "-md", "sha1",
            "-utf8", "-batch", "-notext", "-out", "old.pem")
        write("certificate", "rsa1024_sha1_expired", der("old.pem"))
    finally:
        shutil.rmtree(tmp)


# ---- config_yaml ------------------------------------------------------------------------
def config():
    repo = os.path.dirname(ROOT)
    shutil.copy(os.path.join(repo, "config/examples/mxtls_exporter.yml"),
                os.path.join(CORPUS, "config_yaml", "example.yml"))
    write("config_yaml", "minimal.yml", "targets:\n  - domain: example.com\n")
    write("config_yaml", "full.yml",
          "dns:\n  resolvers: [\"127.0.0.1:53\", \"[::1]:5353\", \"2001:db8::53\"]\n"
          "  timeout: 1500ms\n  attempts: 3\n"
          "modules:\n  default: {}\n  strict:\n    smtp: {port: 2525, ehlo_name: Prober.Example.NET.}\n"
          "    timeout: 1m30s\n    timeouts: {connect: 2s, greeting: 20s}\n"
          "    ip_families: [ipv6]\n    tls: {no_sni_check: false, no_sni_check_interval: 0s}\n"
          "    mta_sts: {enabled: true, port: 8443}\n    max_mx_hosts: 3\n"
          "    max_addresses_per_mx: 2\n"
          "targets:\n  - {domain: Example.ORG., module: strict}\n  - domain: xn--bcher-kva.example\n"
          "allow_unlisted_targets: true\n")
    write("config_yaml", "anchors.yml",
          "x-base: &base {timeout: 10s}\nmodules:\n  a: *base\n  b:\n    <<: *base\n"
          "targets: [{domain: a.example}]\n")
    write("config_yaml", "duplicate_target.yml",
          "dns: {resolvers: [\"127.0.0.1:53\"]}\ntargets:\n  - domain: example.com\n"
          "  - domain: Example.COM.\n")
    write("config_yaml", "flow_error.yml", "dns: {resolvers: [\"127.0.0.1:53\"]\ntargets: [}\n")
    write("config_yaml", "duration.txt", "1d2h3m4s5ms")


if __name__ == "__main__":
    os.makedirs(os.path.join(CORPUS, "config_yaml"), exist_ok=True)
    smtp()
    http()
    dns()
    mta_sts()
    tlsrpt()
    certificate()
    config()
