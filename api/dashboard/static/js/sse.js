// A Server-Sent Events parser (the text/event-stream format of the HTML
// standard) for streams read with fetch(): EventSource cannot send an
// Authorization header.

/**
 * createSSEParser returns {push(text), end()}. push accepts chunks of any
 * size (lines may be split across chunks); onEvent receives
 * {event, data, id} for every complete event. An unterminated event at the
 * end of the stream is discarded, as the standard says.
 */
export function createSSEParser(onEvent) {
  let buf = '';
  let event = '';
  let data = [];
  let id = '';

  function line(text) {
    if (text === '') {
      if (data.length > 0) onEvent({ event: event || 'message', data: data.join('\n'), id });
      event = '';
      data = [];
      return;
    }
    if (text.startsWith(':')) return; // comment (keep-alive)
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id' && !value.includes('\0')) id = value;
  }

  return {
    push(text) {
      buf += text;
      for (;;) {
        const i = buf.search(/[\r\n]/);
        if (i < 0) return;
        // A CR at the very end may be the first half of CRLF: wait for more.
        if (buf[i] === '\r' && i === buf.length - 1) return;
        const eol = buf[i] === '\r' && buf[i + 1] === '\n' ? 2 : 1;
        const text = buf.slice(0, i);
        buf = buf.slice(i + eol);
        line(text);
      }
    },
    end() {
      if (buf.endsWith('\r')) {
        buf = buf.slice(0, -1);
        line(buf);
      }
      buf = '';
    },
  };
}
