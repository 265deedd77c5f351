import fc from 'fast-check';
import { aNode, aRealEstateFlow } from './flow.fixtures';
import { isValidFlow, validateFlow } from './flow-validation';
import { Flow, FlowNode } from './flow.types';

const fields = (input: unknown): string[] => validateFlow(input).map((e) => e.field);

/** The fixture with one node replaced (matched by id). */
function withNode(id: string, change: (node: FlowNode) => FlowNode): Flow {
  const flow = aRealEstateFlow();
  return { ...flow, nodes: flow.nodes.map((node) => (node.id === id ? change(node) : node)) };
}

/** A straight line a → n1 → … so every node is reachable. */
function aChain(length: number): Flow {
  const nodes = Array.from({ length }, (_, i) =>
    aNode(`n${i}`, { options: i + 1 < length ? [{ match: 'next', next: `n${i + 1}` }] : [] }),
  );
  return { start: 'n0', nodes };
}

describe('validateFlow', () => {
  it('accepts a valid flow with a cycle and a final node', () => {
    expect(validateFlow(aRealEstateFlow())).toEqual([]);
    expect(isValidFlow(aRealEstateFlow())).toBe(true);
  });

  it('accepts a one-node flow and a valid fallbackMessage', () => {
    expect(validateFlow({ start: 'only', nodes: [aNode('only')], fallbackMessage: 'Não entendi.' })).toEqual(
      [],
    );
  });

  describe('shape', () => {
    it.each([null, undefined, 'flow', 42, []])('%j is not a flow', (input) => {
      expect(validateFlow(input)).toEqual([{ field: 'flow', message: expect.any(String) }]);
      expect(isValidFlow(input)).toBe(false);
    });

    it('nodes must be a non-empty array', () => {
      expect(fields({ start: 'a' })).toEqual(['nodes', 'start']);
      expect(fields({ start: 'a', nodes: {} })).toEqual(['nodes', 'start']);
      expect(fields({ start: 'a', nodes: [] })).toEqual(['nodes', 'start']);
    });

    it('a node that is not an object is named by position', () => {
      const flow = aRealEstateFlow();
      expect(fields({ ...flow, nodes: [...flow.nodes, 'oops'] })).toEqual(['nodes[4]']);
    });

    it('options must be an array, each option an object', () => {
      expect(fields(withNode('agent', (n) => ({ ...n, options: undefined as unknown as [] })))).toEqual([
        'nodes.agent.options',
      ]);
      const flow = withNode('buy', (n) => ({
        ...n,
        options: [...n.options, null as unknown as FlowNode['options'][0]],
      }));
      expect(fields(flow)).toEqual(['nodes.buy.options[2]']);
    });
  });

  describe('start', () => {
    it.each([undefined, '', 7])('a missing start (%j) is reported on start', (start) => {
      expect(validateFlow({ ...aRealEstateFlow(), start })).toEqual([
        { field: 'start', message: 'is required: the id of the first node' },
      ]);
    });

    it('an unknown start is reported on start, and reachability is not guessed from it', () => {
      expect(validateFlow(aRealEstateFlow({ start: 'inicio' }))).toEqual([
        { field: 'start', message: 'no node has the id "inicio"' },
      ]);
    });
  });

  describe('next', () => {
    it('names the node and the option whose next does not exist', () => {
      const flow = withNode('rent', (n) => ({
        ...n,
        options: [n.options[0], { match: 'dois', next: 'ghost' }],
      }));
      expect(validateFlow(flow)).toEqual([
        { field: 'nodes.rent.options[1].next', message: 'no node has the id "ghost"' },
      ]);
    });

    it('a missing next is required', () => {
      const flow = withNode('buy', (n) => ({
        ...n,
        options: [n.options[0], { match: 'x' } as FlowNode['options'][0]],
      }));
      expect(fields(flow)).toEqual(['nodes.buy.options[1].next']);
    });

    it('a next that only a malformed node claims does not exist', () => {
      const flow = aRealEstateFlow();
      const broken = { ...flow, nodes: [...flow.nodes, aNode('bad id')] };
      broken.nodes[3] = { ...broken.nodes[3], options: [{ match: 'x', next: 'bad id' }] };
      expect(fields(broken)).toEqual(['nodes[4].id', 'nodes.agent.options[0].next']);
    });
  });

  describe('reachability', () => {
    it('names each node that cannot be reached from start', () => {
      const flow = aRealEstateFlow();
      const orphans = {
        ...flow,
        nodes: [...flow.nodes, aNode('island', { options: [{ match: 'x', next: 'islet' }] }), aNode('islet')],
      };
      expect(validateFlow(orphans)).toEqual([
        { field: 'nodes.island', message: 'is unreachable from the start node' },
        { field: 'nodes.islet', message: 'is unreachable from the start node' },
      ]);
    });

    it('a node reachable only through itself is unreachable', () => {
      const flow = aRealEstateFlow();
      const loop = {
        ...flow,
        nodes: [...flow.nodes, aNode('loop', { options: [{ match: 'again', next: 'loop' }] })],
      };
      expect(fields(loop)).toEqual(['nodes.loop']);
    });
  });

  describe('node ids', () => {
    it('duplicates are named by the repeated id', () => {
      const flow = aRealEstateFlow();
      expect(validateFlow({ ...flow, nodes: [...flow.nodes, aNode('buy')] })).toEqual([
        { field: 'nodes.buy', message: 'duplicate node id "buy": node ids must be unique' },
      ]);
    });

    it.each(['', 'has space', 'ação', 'a:b', 'x'.repeat(65), 12])('%j is not an id', (id) => {
      const flow = aRealEstateFlow();
      const bad = { ...flow, nodes: [...flow.nodes, { id, message: '', options: 'no' }] };
      // Malformed ids cannot name their node: the node is named by position, all its errors too.
      expect(fields(bad)).toEqual(['nodes[4].id', 'nodes[4].message', 'nodes[4].options']);
    });

    it.each(['a', 'A-b_9', 'x'.repeat(64)])('%j is an id', (id) => {
      expect(validateFlow({ start: id, nodes: [aNode(id)] })).toEqual([]);
    });
  });

  describe('messages', () => {
    it.each([
      ['empty', ''],
      ['blank', ' \n '],
      ['not text', 5],
      ['missing', undefined],
    ])('%s message is refused', (_what, message) => {
      expect(validateFlow(withNode('buy', (n) => ({ ...n, message: message as string })))).toEqual([
        { field: 'nodes.buy.message', message: 'must be a non-empty text' },
      ]);
    });

    it('4096 characters is WhatsApp’s limit', () => {
      expect(validateFlow(withNode('buy', (n) => ({ ...n, message: 'a'.repeat(4096) })))).toEqual([]);
      expect(fields(withNode('buy', (n) => ({ ...n, message: 'a'.repeat(4097) })))).toEqual([
        'nodes.buy.message',
      ]);
    });

    it('a blank or oversized fallbackMessage is refused', () => {
      expect(fields(aRealEstateFlow({ fallbackMessage: ' ' }))).toEqual(['fallbackMessage']);
      expect(fields(aRealEstateFlow({ fallbackMessage: 'a'.repeat(4097) }))).toEqual(['fallbackMessage']);
    });
  });

  describe('match keywords', () => {
    it.each([
      ['empty', ''],
      ['blank', '   '],
      ['not text', 3],
      ['missing', undefined],
      ['only combining marks', '\u0301'],
    ])('%s match is refused', (_what, match) => {
      const flow = withNode('buy', (n) => ({
        ...n,
        options: [{ match: match as string, next: 'agent' }, n.options[1]],
      }));
      expect(validateFlow(flow)).toEqual([
        { field: 'nodes.buy.options[0].match', message: 'must be a non-empty keyword' },
      ]);
    });

    it('an overlong match is refused', () => {
      const flow = withNode('buy', (n) => ({
        ...n,
        options: [{ match: 'a'.repeat(257), next: 'agent' }, n.options[1]],
      }));
      expect(fields(flow)).toEqual(['nodes.buy.options[0].match']);
    });

    it.each([
      ['same case', 'centro', 'centro'],
      ['any case', 'Centro', 'CENTRO'],
      ['whitespace', 'centro', '  centro '],
      ['accents', 'nao sei', 'Não  Sei'],
    ])('two options with the same keyword (%s) are refused on the later one', (_how, first, second) => {
      const flow = withNode('buy', (n) => ({
        ...n,
        options: [
          { match: first, next: 'agent' },
          { match: second, next: 'welcome' },
        ],
      }));
      expect(validateFlow(flow)).toEqual([
        {
          field: 'nodes.buy.options[1].match',
          message: 'same keyword as options[0] (case and accents are ignored)',
        },
      ]);
    });

    it('the same keyword on different nodes is fine', () => {
      const flow = withNode('rent', (n) => ({
        ...n,
        options: [...n.options.slice(0, 2), { match: 'Centro', next: 'welcome' }],
      }));
      expect(validateFlow(flow)).toEqual([]);
    });

    it('a numeric keyword must be the option’s own number, or "2" would mean two options', () => {
      const clash = withNode('buy', (n) => ({
        ...n,
        options: [{ match: '2', next: 'agent' }, n.options[1]],
      }));
      expect(validateFlow(clash)).toEqual([
        {
          field: 'nodes.buy.options[0].match',
          message: "a numeric keyword must be the option's own number (1)",
        },
      ]);
      const own = withNode('buy', (n) => ({ ...n, options: [{ match: '1', next: 'agent' }, n.options[1]] }));
      expect(validateFlow(own)).toEqual([]);
    });
  });

  describe('limits', () => {
    it('at most 200 nodes', () => {
      expect(validateFlow(aChain(200))).toEqual([]);
      expect(validateFlow(aChain(201))).toEqual([
        { field: 'nodes', message: 'must contain at most 200 nodes' },
      ]);
    });

    it('at most 10 options per node', () => {
      const options = (n: number): FlowNode['options'] =>
        Array.from({ length: n }, (_, i) => ({ match: `op${i}`, next: 'b' }));
      const flowWith = (n: number): Flow => ({
        start: 'a',
        nodes: [aNode('a', { options: options(n) }), aNode('b')],
      });
      expect(validateFlow(flowWith(10))).toEqual([]);
      expect(validateFlow(flowWith(11))).toEqual([
        { field: 'nodes.a.options', message: 'must contain at most 10 options' },
      ]);
    });
  });

  it('reports every problem at once', () => {
    const flow: unknown = {
      start: 'a',
      nodes: [
        aNode('a', {
          options: [
            { match: 'x', next: 'b' },
            { match: 'X', next: 'zz' },
          ],
        }),
        aNode('b', { message: '' }),
        aNode('c'),
      ],
    };
    expect(fields(flow)).toEqual([
      'nodes.a.options[1].match',
      'nodes.a.options[1].next',
      'nodes.b.message',
      'nodes.c',
    ]);
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.anything(), (input) => {
        expect(Array.isArray(validateFlow(input))).toBe(true);
      }),
    );
    const nodeish = fc.record(
      {
        id: fc.oneof(fc.string(), fc.constantFrom('a', 'b')),
        message: fc.anything(),
        options: fc.anything(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.record({ start: fc.anything(), nodes: fc.array(nodeish) }), (input) => {
        const errors = validateFlow(input);
        for (const error of errors) expect(error.field).toMatch(/^(flow|start|fallbackMessage|nodes)/);
      }),
    );
  });
});
