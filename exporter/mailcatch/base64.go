package mailcatch

import (
	"bytes"
	"encoding/base64"
)

func decodeBase64(b []byte) ([]byte, error) {
	return base64.StdEncoding.DecodeString(string(bytes.Join(bytes.Fields(b), nil)))
}
