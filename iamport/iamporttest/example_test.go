package iamporttest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
)

// A test registers a card as the payment window would, then charges it through the
// iamport client, and checks what the fake saw.
func ExampleNewServer() {
	srv := iamporttest.NewServer()
	defer srv.Close()

	res, err := srv.IssueBillingKey(iamporttest.IssueRequest{
		PG:          "kcp_billing",
		MerchantUID: "reg_1",
		CustomerUID: "cust_1",
		Name:        "카드 등록",
		CardNumber:  iamporttest.CardOK,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("issuance:", res.Rsp["success"], res.Payment.Status, res.Payment.CustomerUIDUsage)

	client := srv.Client()
	ctx := context.Background()
	p, err := client.Again(ctx, iamport.AgainRequest{
		CustomerUID: "cust_1", MerchantUID: "order_1", Amount: 9900, Name: "월 구독",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("charge:", p.Status, p.Amount, p.CardNumber)

	// The next call answers 502 without charging; to a client that is an unknown outcome.
	srv.Inject(iamporttest.EPAgain, iamporttest.Fault{Status: http.StatusBadGateway})
	_, err = client.Again(ctx, iamport.AgainRequest{
		CustomerUID: "cust_1", MerchantUID: "order_2", Amount: 9900, Name: "월 구독",
	})
	fmt.Println("502 is an unknown outcome:", errors.Is(err, iamport.ErrOutcomeUnknown))
	fmt.Println("getToken calls:", srv.Count(iamporttest.EPGetToken), "again calls:", srv.Count(iamporttest.EPAgain))
	// Output:
	// issuance: true paid issue
	// charge: paid 9900 411111******1111
	// 502 is an unknown outcome: true
	// getToken calls: 1 again calls: 2
}

// Without the client: the fake over plain HTTP, with a token, a decline and the clock.
func ExampleFake_Handler() {
	srv := iamporttest.NewServer(iamporttest.WithClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)))
	defer srv.Close()
	if _, err := srv.IssueBillingKey(iamporttest.IssueRequest{
		PG: "kcp_billing", MerchantUID: "reg_1", CustomerUID: "cust_1", CardNumber: iamporttest.CardDeclined,
	}); err != nil {
		panic(err)
	}

	post := func(path, token, body string) map[string]any {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		var env map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&env)
		return env
	}
	tok := post("/users/getToken", "", `{"imp_key":"`+iamporttest.Key+`","imp_secret":"`+iamporttest.Secret+`"}`)
	token := tok["response"].(map[string]any)["access_token"].(string)
	fmt.Println("expires in:", tok["response"].(map[string]any)["expired_at"].(float64)-tok["response"].(map[string]any)["now"].(float64))

	env := post("/subscribe/payments/again", token, `{"customer_uid":"cust_1","merchant_uid":"o1","amount":1000,"name":"plan"}`)
	pay := env["response"].(map[string]any)
	fmt.Println("code:", env["code"], "status:", pay["status"], "reason:", pay["fail_reason"])

	srv.Advance(31 * time.Minute)
	env = post("/subscribe/payments/again", token, `{"customer_uid":"cust_1","merchant_uid":"o2","amount":1000,"name":"plan"}`)
	fmt.Println("after expiry:", env["code"], env["message"])
	http.DefaultClient.CloseIdleConnections()
	// Output:
	// expires in: 1800
	// code: 0 status: failed reason: [8012] 잔액부족 또는 한도초과로 승인이 거절되었습니다.
	// after expiry: -1 Unauthorized
}

// A sandbox that survives restarts: the second fake knows the key the first one issued.
func ExampleWithStateFile() {
	dir, err := os.MkdirTemp("", "fake-state-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "shop.db.fake.json")

	first, err := iamporttest.NewWithState(iamporttest.WithStateFile(path), iamporttest.WithRealClock())
	if err != nil {
		panic(err) // an unreadable state file
	}
	_, _ = first.IssueBillingKey(iamporttest.IssueRequest{PG: "kcp_billing", MerchantUID: "reg_1", CustomerUID: "cust_1", CardNumber: iamporttest.CardOK})
	first.Close()

	second, err := iamporttest.NewWithState(iamporttest.WithStateFile(path), iamporttest.WithRealClock())
	if err != nil {
		panic(err)
	}
	defer second.Close()
	key, ok := second.Customer("cust_1")
	fmt.Println(ok, key.CardNumber)
	// Output:
	// true 411111******1111
}
