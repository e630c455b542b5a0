// Verifies a sagate identity assertion with the jose library (npm install jose):
//   node verify.mjs JWKS_URL AUDIENCE TOKEN
// prints the claims as JSON and exits 0, or prints why not and exits 1. An upstream
// does the same per request, with the JWKS set created once.
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [jwksURL, audience, token] = process.argv.slice(2);
if (!jwksURL || !audience || !token) {
  console.error('usage: node verify.mjs JWKS_URL AUDIENCE TOKEN');
  process.exit(2);
}
const jwks = createRemoteJWKSet(new URL(jwksURL));
try {
  const { payload } = await jwtVerify(token, jwks, {
    issuer: 'sagate',
    audience,
    algorithms: ['EdDSA'],
    clockTolerance: 30,
  });
  console.log(JSON.stringify(payload));
} catch (err) {
  console.error(`invalid assertion: ${err.code ?? err.message}`);
  process.exit(1);
}
