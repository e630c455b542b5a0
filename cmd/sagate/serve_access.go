package main

import (
	"github.com/spf13/pflag"

	"github.com/sagate/sagate/admin"
)

// accessOptions are the flags of sagate serve that say who may call the admin API
// besides the admin token: more operators, and people behind an authenticating proxy.
type accessOptions struct {
	operatorsFile   string
	proxyUserHeader string
	trustedProxies  string
}

func (o *accessOptions) flags(f *pflag.FlagSet) {
	f.StringVar(&o.operatorsFile, "operators-file", "", `file (mode 0600) of operator tokens, one "NAME TOKEN" or "NAME sha256:HEX" a line; checked every 2s, a line that does not parse is skipped`)
	f.StringVar(&o.proxyUserHeader, "proxy-user-header", "", "header in which an authenticating proxy names the person (e.g. X-Webauth-User); honoured only from --trusted-proxies")
	f.StringVar(&o.trustedProxies, "trusted-proxies", "", "comma-separated addresses or CIDR prefixes of the authenticating proxies")
}

// operatorsOnly reports whether serve may start without the admin token: an operators
// file names the operators, and no token was given at all (a bad one is still refused).
func (o *accessOptions) operatorsOnly(tokenFile, envToken string) bool {
	return o.operatorsFile != "" && tokenFile == "" && envToken == ""
}

// config returns the admin.Config fields of the flags.
func (o *accessOptions) config() (admin.Config, error) {
	c := admin.Config{OperatorsFile: o.operatorsFile, ProxyUserHeader: o.proxyUserHeader}
	if o.trustedProxies != "" {
		p, err := admin.ParseTrustedProxies(o.trustedProxies)
		if err != nil {
			return c, usagef("--trusted-proxies: %v", err)
		}
		c.TrustedProxies = p
	}
	if (o.proxyUserHeader == "") != (len(c.TrustedProxies) == 0) {
		return c, usagef("--proxy-user-header and --trusted-proxies go together")
	}
	return c, nil
}
