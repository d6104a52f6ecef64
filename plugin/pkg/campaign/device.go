package campaign

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Prefixes of a device key: what a case follows when the machine behind an
// IP is known.
const (
	DeviceKeyMAC     = "mac:"
	DeviceKeyAccount = "account:"
	DeviceKeyIP      = "ip:"
)

// DeviceKey is the one rule for what identifies a device across IP changes:
// its MAC when known (from a DHCP lease), else the account it logged in as
// (RADIUS, 上网认证), else only its IP. A case and the IP清零 counts follow
// the key, so a PC that moves to another DHCP address stays one device.
// mac must already be normalised (lower-case, colon-separated).
func DeviceKey(mac, account, ip string) string {
	switch {
	case mac != "":
		return DeviceKeyMAC + strings.ToLower(mac)
	case account != "":
		return DeviceKeyAccount + account
	case ip != "":
		return DeviceKeyIP + ip
	}
	return ""
}

// DeviceStore gives the device key of the IPs whose device is known (the
// case store: cases traced to a MAC or an account).
type DeviceStore interface {
	DeviceKeys(ctx context.Context, sc Scope) (map[HostKey]string, error)
}

// CountDevices counts the distinct devices among rows in one of the states
// (all rows when none given): the IP清零 count by device, in which a machine
// flagged at two DHCP addresses counts once.
func CountDevices(rows []TrackerRow, states ...State) int {
	seen := map[string]bool{}
	for _, r := range rows {
		if len(states) > 0 && !containsState(states, r.State) {
			continue
		}
		seen[r.Unit+"\x00"+r.Device] = true
	}
	return len(seen)
}

func containsState(ss []State, s State) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// deviceOf is the tracker's device key of an IP: the known device, else the IP.
func deviceOf(devices map[HostKey]string, k HostKey) string {
	if d := devices[k]; d != "" {
		return d
	}
	return DeviceKey("", "", k.IP)
}

// hideAccount replaces an account in a device key by a pseudonym (for a
// datasource that hides persons: an account names a person), still distinct
// per account so that counts by device stay right.
func hideAccount(key string) string {
	acct, ok := strings.CutPrefix(key, DeviceKeyAccount)
	if !ok {
		return key
	}
	sum := sha256.Sum256([]byte(acct))
	return DeviceKeyAccount + "#" + hex.EncodeToString(sum[:6])
}
