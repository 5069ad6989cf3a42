import { describe, expect, it } from 'vitest';
import { parseBrowserifyExport } from './js-literal.js';

const wrap = (literal: string) => `!function(a){module.exports=a()}(function(){return function a(n,i,e){return t}({1:[function(a,n,i){n.exports=${literal}},{}]},{},[1])(1)});`;

describe('parseBrowserifyExport', () => {
  it('reads the minified object literal of module 1 without evaluating it', () => {
    const value = parseBrowserifyExport(
      wrap(`{modelTopology:{keras_version:"2.2.4",layers:[{name:"c1",trainable:!1,use_bias:!0,seed:null,min:-.6927,scale:1e-3,n:-12,k:[3,3]}],"quoted key":'s\\u00e9\\n'}}`),
      'model.min.js',
    );
    expect(value).toEqual({
      modelTopology: {
        keras_version: '2.2.4',
        layers: [{ name: 'c1', trainable: false, use_bias: true, seed: null, min: -0.6927, scale: 0.001, n: -12, k: [3, 3] }],
        'quoted key': 'sé\n',
      },
    });
  });

  it('reads a base64 string export', () => {
    expect(parseBrowserifyExport(wrap('"AAEC/w=="'), 'shard.min.js')).toBe('AAEC/w==');
  });

  it('refuses code instead of running it, naming the file and offset', () => {
    expect(() => parseBrowserifyExport(wrap('{a:require("fs")}'), 'evil.min.js')).toThrow(/evil\.min\.js: offset \d+: unsupported literal/);
    expect(() => parseBrowserifyExport(wrap('{a:1}+1'), 'x.js')).toThrow(/expected "}"/);
    expect(() => parseBrowserifyExport('module.exports = {}', 'plain.js')).toThrow(/plain\.js: not a browserify bundle/);
  });
});
