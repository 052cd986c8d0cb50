package crmsim

import (
	"html"
	"net/http"
	"strconv"
)

// Salesforce's front end refuses a request whose URI and headers are too long before the API
// sees it: "the maximum length for the combined URI and headers is 16,384 bytes. A request
// exceeding this limit returns a 431 Request Header Fields Too Large error. If the URI itself
// exceeds this limit, the request returns a 414 URI Too Long error." (Salesforce Help article
// 000386264, which also advises keeping the URI under 2,000 characters and names the
// Composite API's subrequests as the way to send longer SOQL.) A user measured the same
// boundary: 431 past about 16,088 characters of URI, 414 at 16,410 (salesforce.stackexchange
// question 195449). Such a request never reaches the API: it uses none of the daily
// allocation and carries no Sforce-Limit-Info.

// DefaultSalesforceURILimit is SalesforceOptions.URILimit's default: 16,384 bytes of URI and
// headers.
const DefaultSalesforceURILimit = 16384

// sfRequestSize measures a request as it arrived: its request URI (the request line's
// target: path and query string, as sent), and that plus its header section. Go's server has
// already parsed the headers, so the section is rebuilt from them: "Name: value\r\n" for
// every value, the Host line included (Go moves it to r.Host). Header names are counted as
// Go canonicalised them, the same length as sent; folded or oddly spaced lines, which HTTP/1.1
// clients no longer send, are counted as if sent plainly.
func sfRequestSize(r *http.Request) (uri, total int) {
	uri = len(r.RequestURI)
	if r.RequestURI == "" {
		uri = len(r.URL.RequestURI())
	}
	total = uri
	if r.Host != "" {
		total += len("Host: ") + len(r.Host) + len("\r\n")
	}
	for name, values := range r.Header {
		for _, v := range values {
			total += len(name) + len(": ") + len(v) + len("\r\n")
		}
	}
	return uri, total
}

// sfEdgeRefusal is the front end's answer to a request over the limit, if it is.
func (s *Sim) sfEdgeRefusal(r *http.Request) (reply, bool) {
	limit := s.sf.opts.URILimit
	if limit < 0 {
		return reply{}, false
	}
	uri, total := sfRequestSize(r)
	switch {
	case uri > limit:
		return sfFrontEndPage(http.StatusRequestURITooLong, "URI Too Long", r.URL.Path), true
	case total > limit:
		return sfFrontEndPage(http.StatusRequestHeaderFieldsTooLarge, "Request Header Fields Too Large", r.URL.Path), true
	}
	return reply{}, false
}

// sfFrontEndPage is the HTML error page of Salesforce's front end (a Jetty server's error
// page). Its head and heading are as captured for a 431 (hardisgroupcom/sfdx-hardis #1743:
// `<title>Error 431 Request Header Fields Too Large</title>` ... `<h2>HTTP ERROR 431
// Request Header Fields Too Large</h2>` and a table opening with the URI); the table's other
// rows follow Jetty's error page and are UNCONFIRMED, as is the whole 414 page, rendered the
// same way. The URI cell holds the path alone: the sim does not echo a query string.
func sfFrontEndPage(status int, reason, path string) reply {
	code := strconv.Itoa(status)
	body := "<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html;charset=ISO-8859-1\"/>\n" +
		"<title>Error " + code + " " + reason + "</title>\n</head>\n<body>\n" +
		"<h2>HTTP ERROR " + code + " " + reason + "</h2>\n<table>\n" +
		"<tr><th>URI:</th><td>" + html.EscapeString(path) + "</td></tr>\n" +
		"<tr><th>STATUS:</th><td>" + code + "</td></tr>\n" +
		"<tr><th>MESSAGE:</th><td>" + reason + "</td></tr>\n" +
		"<tr><th>SERVLET:</th><td>-</td></tr>\n" +
		"</table>\n\n</body>\n</html>\n"
	return reply{status: status, contentType: "text/html;charset=iso-8859-1", body: []byte(body)}
}
