package mailcatch

import (
	"mime"
	"net/http/httptest"
	"net/smtp"
	"strings"
	"testing"
)

func TestCatchesAndDecodesChineseMail(t *testing.T) {
	c, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	subject := mime.BEncoding.Encode("UTF-8", "【挖矿告警】郑东新区第一中学 10.20.3.21")
	body := "From: alert@bureau.example.cn\r\nTo: lead@no1.example.edu.cn\r\nSubject: " + subject + "\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		"5a6e6aqM5qW8MzAxIEdQVeW3peS9nOermQ==\r\n" // 实验楼301 GPU工作站
	if err := smtp.SendMail(c.Addr, nil, "alert@bureau.example.cn", []string{"lead@no1.example.edu.cn"}, []byte(body)); err != nil {
		t.Fatal(err)
	}
	msgs := c.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if m.Subject != "【挖矿告警】郑东新区第一中学 10.20.3.21" || m.Text != "实验楼301 GPU工作站" || m.To[0] != "lead@no1.example.edu.cn" {
		t.Fatalf("decoded %+v", m)
	}
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if !strings.Contains(rec.Body.String(), "实验楼301 GPU工作站") {
		t.Fatalf("page does not show the message: %s", rec.Body.String())
	}
}
