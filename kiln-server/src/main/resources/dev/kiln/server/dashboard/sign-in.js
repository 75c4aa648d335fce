'use strict';
// The server sends a failed sign-in back here with ?failed (the token itself never enters a URL).
if (new URLSearchParams(location.search).has('failed')) {
  document.getElementById('failed').hidden = false;
}
