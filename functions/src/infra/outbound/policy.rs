//! Where the worker may send a request whose URL a user chose (an AI base URL): https to a
//! public host only. Checked when the URL is saved and again before every call, since rows can
//! be written by SQL too.
//!
//! The URL is parsed the WHATWG way (as `fetch` does), so every spelling of an address is
//! classified as the address it is: `2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`,
//! `127.0.0.1.`, `%31%32%37.0.0.1` and `[::ffff:127.0.0.1]` all become 127.0.0.1. A name that
//! only resolves to a private address is beyond reach here (a worker cannot resolve names);
//! Cloudflare's `fetch` does not reach private networks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// `local_allowed` only on development stacks (`ALLOW_LOCAL_OUTBOUND`), whose fakes listen on
/// loopback over plain http.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    local_allowed: bool,
}

/// Why a URL is refused; `reason` is written for the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    NotAUrl,
    NotHttps,
    Credentials,
    Fragment,
    /// A private, reserved or loopback address, or a name for one (`localhost`, `*.internal`).
    NotPublic,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotAUrl => "must be an absolute https URL",
            Self::NotHttps => "must use https",
            Self::Credentials => "must not carry a user name or password",
            Self::Fragment => "must not have a #fragment",
            Self::NotPublic => "must name a public host, not a private or reserved address",
        }
    }
}

impl OutboundPolicy {
    /// Production: https to public hosts only.
    pub const PUBLIC_ONLY: Self = Self {
        local_allowed: false,
    };
    /// Development stacks: loopback too, over http or https.
    pub const LOCAL_ALLOWED: Self = Self {
        local_allowed: true,
    };

    pub fn allows_local(self) -> bool {
        self.local_allowed
    }

    /// The parsed URL when a request may go to it.
    pub fn check(self, raw: &str) -> Result<Url, Refusal> {
        let url = Url::parse(raw.trim()).map_err(|_| Refusal::NotAUrl)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::Credentials);
        }
        if url.fragment().is_some() {
            return Err(Refusal::Fragment);
        }
        let reach = match url.host() {
            Some(Host::Domain(name)) => reach_of_name(name),
            Some(Host::Ipv4(address)) => reach_of_ip(IpAddr::V4(address)),
            Some(Host::Ipv6(address)) => reach_of_ip(IpAddr::V6(address)),
            None => return Err(Refusal::NotAUrl),
        };
        match reach {
            Reach::Private => return Err(Refusal::NotPublic),
            Reach::Loopback if !self.local_allowed => return Err(Refusal::NotPublic),
            Reach::Loopback | Reach::Public => {}
        }
        match url.scheme() {
            "https" => Ok(url),
            "http" if reach == Reach::Loopback => Ok(url),
            "http" => Err(Refusal::NotHttps),
            _ => Err(Refusal::NotAUrl),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reach {
    Public,
    /// This machine: allowed on development stacks.
    Loopback,
    /// Anything else not on the public internet.
    Private,
}

fn reach_of_name(name: &str) -> Reach {
    let name = name.trim_end_matches('.');
    let under = |suffix: &str| name == suffix || name.ends_with(&format!(".{suffix}"));
    if under("localhost") {
        Reach::Loopback
    } else if under("internal") || under("local") || under("localdomain") || under("home.arpa") {
        Reach::Private
    } else {
        Reach::Public
    }
}

fn reach_of_ip(address: IpAddr) -> Reach {
    match address {
        IpAddr::V4(v4) => reach_of_v4(v4),
        IpAddr::V6(v6) => reach_of_v6(v6),
    }
}

fn reach_of_v4(address: Ipv4Addr) -> Reach {
    let [a, b, c, _] = address.octets();
    let private = a == 0                                // "this network", 0.0.0.0
        || a == 10
        || (a == 100 && (64..128).contains(&b))         // carrier-grade NAT
        || (a == 169 && b == 254)                       // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && (c == 0 || c == 2))   // IETF protocol assignments, TEST-NET-1
        || (a == 192 && b == 88 && c == 99)             // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19))           // benchmarking
        || (a == 198 && b == 51 && c == 100)            // TEST-NET-2
        || (a == 203 && b == 0 && c == 113)             // TEST-NET-3
        || a >= 224; // multicast, reserved, broadcast
    if a == 127 {
        Reach::Loopback
    } else if private {
        Reach::Private
    } else {
        Reach::Public
    }
}

fn reach_of_v6(address: Ipv6Addr) -> Reach {
    if address == Ipv6Addr::LOCALHOST {
        return Reach::Loopback;
    }
    let segments = address.segments();
    let embedded_v4 = |high: u16, low: u16| {
        Ipv4Addr::new((high >> 8) as u8, high as u8, (low >> 8) as u8, low as u8)
    };
    match segments {
        // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d, which includes ::).
        [0, 0, 0, 0, 0, 0xffff, high, low] | [0, 0, 0, 0, 0, 0, high, low] => {
            match embedded_v4(high, low) {
                v4 if v4.is_unspecified() => Reach::Private,
                v4 => reach_of_v4(v4),
            }
        }
        // NAT64 (64:ff9b::/96) carries the IPv4 address it reaches, 6to4 (2002::/16) one in
        // its next 32 bits: never this machine, public or private.
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] | [0x2002, high, low, ..] => {
            match reach_of_v4(embedded_v4(high, low)) {
                Reach::Public => Reach::Public,
                Reach::Loopback | Reach::Private => Reach::Private,
            }
        }
        [first, second, ..] => {
            let private = (first & 0xfe00) == 0xfc00    // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80           // link-local fe80::/10
                || (first & 0xffc0) == 0xfec0           // site-local fec0::/10
                || (first & 0xff00) == 0xff00           // multicast
                || (first == 0x64 && second == 0xff9b)  // local-use NAT64 64:ff9b:1::/48
                || (first == 0x2001 && second < 0x200)  // Teredo, benchmarking, ORCHID…
                || (first == 0x2001 && second == 0xdb8) // documentation
                || first == 0x100                       // discard-only 100::/64
                || first == 0; // the rest of ::/16
            if private {
                Reach::Private
            } else {
                Reach::Public
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine in every spelling: refused unless the development setting is on.
    const LOOPBACK: &[&str] = &[
        "https://127.0.0.1/v1",
        "https://2130706433/",
        "https://0x7f000001/",
        "https://0x7f.1/",
        "https://0177.0.0.1/",
        "https://0177.1/",
        "https://127.1/",
        "https://127.0.0.1./",
        "https://%31%32%37.0.0.1/",
        "https://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:7f00:1]/",
        "https://[0:0:0:0:0:ffff:127.0.0.1]/",
        "https://[::127.0.0.1]/",
        "https://localhost/",
        "https://LOCALHOST./",
        "https://api.localhost/",
    ];

    /// Unspecified, private, link-local and metadata, CGNAT, reserved, and names for them:
    /// refused always.
    const PRIVATE: &[&str] = &[
        "https://0.0.0.0/",
        "https://0/",
        "https://[::]/",
        "https://10.1.2.3/",
        "https://012.1.2.3/",
        "https://172.16.0.1/",
        "https://172.31.255.255/",
        "https://192.168.1.1/",
        "https://0xc0a80101/",
        "https://169.254.169.254/latest/meta-data/",
        "https://2852039166/",
        "https://[::ffff:169.254.169.254]/",
        "https://[::ffff:a9fe:a9fe]/",
        "https://100.64.0.1/",
        "https://100.127.255.255/",
        "https://192.0.0.170/",
        "https://198.18.0.1/",
        "https://224.0.0.1/",
        "https://239.255.255.250/",
        "https://255.255.255.255/",
        "https://240.0.0.1/",
        "https://[fc00::1]/",
        "https://[fd12:3456::1]/",
        "https://[fe80::1]/",
        "https://[fec0::1]/",
        "https://[ff02::1]/",
        "https://[64:ff9b::a9fe:a9fe]/",
        "https://[64:ff9b::10.0.0.1]/",
        "https://[64:ff9b::127.0.0.1]/",
        "https://[64:ff9b:1::1]/",
        "https://[2002:a9fe:a9fe::1]/",
        "https://[2002:7f00:1::]/",
        "https://[2001::1]/",
        "https://[2001:db8::1]/",
        "https://192.0.2.1/",
        "https://192.88.99.1/",
        "https://198.19.255.255/",
        "https://198.51.100.7/",
        "https://203.0.113.9/",
        "https://[::ffff:198.51.100.1]/",
        "https://[100::1]/",
        "https://[0:0:0:0:1::1]/",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://printer.local/",
        "https://router.home.arpa/",
    ];

    #[test]
    fn refuses_private_and_reserved_hosts_in_any_spelling() {
        for policy in [OutboundPolicy::PUBLIC_ONLY, OutboundPolicy::LOCAL_ALLOWED] {
            for url in PRIVATE {
                assert_eq!(
                    policy.check(url).map(drop),
                    Err(Refusal::NotPublic),
                    "{url}"
                );
            }
            assert!(policy.check("https://[fe80::1%25eth0]/").is_err());
        }
        for url in LOOPBACK {
            assert_eq!(
                OutboundPolicy::PUBLIC_ONLY.check(url).map(drop),
                Err(Refusal::NotPublic),
                "{url}"
            );
        }
    }

    #[test]
    fn refuses_other_schemes_credentials_and_fragments() {
        let policy = OutboundPolicy::PUBLIC_ONLY;
        for (url, refusal) in [
            ("http://api.openai.com/v1", Refusal::NotHttps),
            ("ftp://api.openai.com/", Refusal::NotAUrl),
            ("file:///etc/passwd", Refusal::NotAUrl),
            ("gopher://api.openai.com/", Refusal::NotAUrl),
            ("api.openai.com/v1", Refusal::NotAUrl),
            ("https://", Refusal::NotAUrl),
            ("https://user:pass@api.openai.com/v1", Refusal::Credentials),
            ("https://user@api.openai.com/v1", Refusal::Credentials),
            ("https://api.openai.com/v1#x", Refusal::Fragment),
            ("https://api.openai.com/v1#", Refusal::Fragment),
            ("https://api.openai.com@127.0.0.1/", Refusal::Credentials),
        ] {
            assert_eq!(policy.check(url).map(drop), Err(refusal), "{url}");
        }
    }

    #[test]
    fn allows_public_https_hosts() {
        for url in [
            "https://api.openai.com/v1",
            "https://generativelanguage.googleapis.com/v1beta",
            "https://llm.example:8443/v1",
            "https://8.8.8.8/v1",
            "https://[2606:4700::1111]/v1",
            "https://172.32.0.1/",
            "https://100.128.0.1/",
            "https://localhost.example.com/",
            "https://internal.example.com/",
        ] {
            assert!(OutboundPolicy::PUBLIC_ONLY.check(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn the_neighbours_of_each_reserved_range_are_public() {
        for url in [
            "https://1.0.0.1/",
            "https://101.64.0.1/",
            "https://169.253.0.1/",
            "https://170.254.0.1/",
            "https://173.16.0.1/",
            "https://192.0.1.1/",
            "https://192.1.0.1/",
            "https://193.88.99.1/",
            "https://192.87.99.1/",
            "https://192.88.98.1/",
            "https://193.168.0.1/",
            "https://198.20.100.1/",
            "https://199.18.0.1/",
            "https://199.51.100.1/",
            "https://198.51.99.1/",
            "https://204.0.113.1/",
            "https://203.1.113.1/",
            "https://203.0.112.1/",
            "https://[2001:4860:4860::8888]/",
            "https://[2001:200::1]/",
            "https://[2a00:1::1]/",
            "https://[2a00:db8::1]/",
            "https://[2a00:ff9b::1]/",
            "https://[64:ff9a::1]/",
        ] {
            assert!(OutboundPolicy::PUBLIC_ONLY.check(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn each_refusal_says_what_the_url_must_be() {
        let refusals = [
            Refusal::NotAUrl,
            Refusal::NotHttps,
            Refusal::Credentials,
            Refusal::Fragment,
            Refusal::NotPublic,
        ];
        let reasons: std::collections::BTreeSet<&str> =
            refusals.iter().map(|refusal| refusal.reason()).collect();
        assert_eq!(reasons.len(), refusals.len());
        assert!(reasons.iter().all(|reason| reason.starts_with("must ")));
    }

    #[test]
    fn loopback_only_with_the_development_setting() {
        for url in LOOPBACK
            .iter()
            .chain(&["http://127.0.0.1:54329/openai/v1", "http://localhost:8787/"])
        {
            assert!(OutboundPolicy::LOCAL_ALLOWED.check(url).is_ok(), "{url}");
        }
        for url in [
            "http://10.0.0.1/",
            "http://169.254.169.254/",
            "http://api.openai.com/",
        ] {
            assert!(OutboundPolicy::LOCAL_ALLOWED.check(url).is_err(), "{url}");
        }
    }
}
