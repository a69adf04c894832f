import { relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/** One option of a schema type, as TypeScript sees it. */
export interface DeclaredOption {
  name: string;
  /** Its doc comment; empty when it has none. */
  doc: string;
  /** Where it is declared, relative to the folder the declarations must stay within. */
  declaredIn: string;
}

/**
 * The options each schema.d.ts declares: the properties of the one type it exports whose name ends
 * in `Schema` (`CleanupExecutorSchema`, `InitGeneratorSchema`). A schema.d.ts may declare that type
 * itself, re-export the type a use case owns (`export type { CleanupOptions as
 * CleanupExecutorSchema } from '../../lib/retention/run'`) or compose such types (`A & B`,
 * `interface … extends`). TypeScript's checker follows all of these, so what is compared with
 * schema.json is the type the executor is given, not the text of one file. Every property must be
 * declared in a file under `within` (the plugin): an option typed by a package outside it would not
 * be the plugin's to describe.
 *
 * One program for all the files: parsing the plugin once is what keeps this quick.
 */
export function schemaOptions(schemaFiles: readonly string[], within: string): Map<string, DeclaredOption[]> {
  const program = ts.createProgram(
    schemaFiles.map((file) => resolve(file)),
    // Only declarations are read: no emit, no types from @types, no check of other files.
    { noEmit: true, strict: true, skipLibCheck: true, types: [], target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10 },
  );
  const checker = program.getTypeChecker();
  const root = resolve(within);
  const result = new Map<string, DeclaredOption[]>();
  for (const file of schemaFiles) {
    const source = program.getSourceFile(resolve(file));
    const moduleSymbol = source && checker.getSymbolAtLocation(source);
    if (!moduleSymbol) throw new Error(`${file}: TypeScript cannot read it as a module (it must export its schema type)`);
    const schemas = checker.getExportsOfModule(moduleSymbol).filter((symbol) => /Schema$/.test(symbol.name));
    if (schemas.length !== 1) {
      throw new Error(`${file}: exports ${schemas.length} types named *Schema (${schemas.map((s) => s.name).join(', ')}); it must export exactly one`);
    }
    const [exported] = schemas;
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const options = checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol)).map((property) => {
      const declaration = property.getDeclarations()?.[0];
      const declaredIn = declaration ? relative(root, declaration.getSourceFile().fileName).split(sep).join('/') : '';
      if (!declaredIn || declaredIn.startsWith('..')) {
        throw new Error(`${file}: option ${property.name} of ${exported.name} is declared outside ${within} (${declaration?.getSourceFile().fileName ?? 'nowhere'})`);
      }
      return { name: property.name, doc: ts.displayPartsToString(property.getDocumentationComment(checker)).trim(), declaredIn };
    });
    result.set(file, options);
  }
  return result;
}
