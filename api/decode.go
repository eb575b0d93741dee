package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
)

// applyRequest is the body of POST /api/v1/stacks/{name}/apply.
type applyRequest struct {
	Token string `json:"token"`
}

// cancelRequest is the (optional, empty) body of POST
// /api/v1/approvals/{id}/cancel.
type cancelRequest struct{}

// readBody reads a request body of at most limit bytes and decodes it
// strictly into dst (see decodeJSON).
func readBody(w http.ResponseWriter, r *http.Request, limit int64, dst any, fields string) *apiError {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeBodyTooLarge,
			Message: fmt.Sprintf("The request body is larger than %d bytes. Send only the documented fields (%s).", tooLarge.Limit, fields)}
	}
	if err != nil {
		return &apiError{Status: http.StatusBadRequest, Code: codeInvalidBody,
			Message: "The request body could not be read. Send it again."}
	}
	return decodeJSON(body, dst, fields)
}

// decodeJSON decodes one JSON object into dst, refusing unknown fields,
// wrong types and anything after the object. An empty body decodes as {}.
// fields names the accepted fields for the error message.
func decodeJSON(body []byte, dst any, fields string) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	invalid := func(format string, args ...any) *apiError {
		return &apiError{Status: http.StatusBadRequest, Code: codeInvalidBody, Message: fmt.Sprintf(format, args...)}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var (
			syntax *json.SyntaxError
			typ    *json.UnmarshalTypeError
		)
		switch {
		case errors.As(err, &syntax):
			return invalid("The request body is not valid JSON (error at byte %d). Send a JSON object with %s.", syntax.Offset, fields)
		case errors.As(err, &typ) && typ.Field == "":
			return invalid("The request body must be a JSON object with %s.", fields)
		case errors.As(err, &typ):
			return invalid("Field %q must be a JSON %s.", typ.Field, jsonKind(typ.Type.Kind()))
		case errors.Is(err, io.ErrUnexpectedEOF):
			return invalid("The request body is truncated JSON. Send a complete JSON object with %s.", fields)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.TrimPrefix(err.Error(), "json: unknown field ")
			return invalid("The request body has an unknown field %s. Send only %s.", name, fields)
		default:
			return invalid("The request body could not be decoded. Send a JSON object with %s.", fields)
		}
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return invalid("The request body has data after the JSON object. Send exactly one JSON object with %s.", fields)
	}
	return nil
}

// jsonKind names a Go kind in JSON's words.
func jsonKind(kind reflect.Kind) string {
	switch kind {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct, reflect.Pointer, reflect.Interface:
		return "object"
	}
	return "number"
}
