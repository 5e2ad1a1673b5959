import { describe, expect, it } from 'vitest';
import { apiBaseUrl } from '../src/api/cluster-member-view.js';

describe('apiBaseUrl', () => {
  it('turns a node address into the base URL of its API', () => {
    expect(apiBaseUrl('10.77.0.11', 7070)).toBe('http://10.77.0.11:7070');
    expect(apiBaseUrl('10.77.0.11:7171', 7070)).toBe('http://10.77.0.11:7171');
    expect(apiBaseUrl('https://a.example/', 7070)).toBe('https://a.example');
    expect(apiBaseUrl('fe80::1', 7070)).toBe('http://[fe80::1]:7070');
  });
});
